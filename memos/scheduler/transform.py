"""Transformations (MemOS's migration paths): plaintext memories used together often get an activation.

``/context`` counts the sets of top memories it carries (``memos.retrieval.access``, written with the access
statistics). A set carried ``MEMOS_TRANSFORM_MIN_USES`` times within ``MEMOS_TRANSFORM_WINDOW_DAYS`` gets an
activation snapshot of those memories with ``MEMOS_TRANSFORM_MODEL`` (off when unset): the same memory and
build job a client would get from ``POST /v1/cubes/{id}/activations``, with the version's actor
``system:scheduler`` and a reason naming the uses. Its snapshot is then prefetched whenever a search recalls
its sources (``memos.scheduler.predict``) and can be generated with. A set whose memories are no longer all
live is retired (its row marked with no activation but zero uses, so it counts again from scratch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from memcube import schemas
from memcube.db import SYSTEM, tenant_session
from memcube.models import MemoryCoUse
from memcube.repository import co_use
from memos.activation.models import ModelRegistry
from memos.activation.service import MAX_TEXT_CHARS, create_activation
from memos.config import Settings
from memos.cubes.service import load_cube
from memos.errors import MemOSError
from memos.tenants.service import Principal

log = logging.getLogger(__name__)
ACTOR = "system:scheduler"


@dataclass(frozen=True)
class SchedulerPrincipal(Principal):
    """The scheduler writing into a tenant's cube: versions name it, jobs are attributed to the tenant."""

    @property
    def actor(self) -> str:
        return ACTOR


def configured_model(settings: Settings, name: str, setting: str) -> bool:
    """Whether a transformation's model setting is on and names a model of the registry (a warning if not)."""
    if not name:
        return False
    models = [s.name for s in ModelRegistry(settings).specs()]
    if name not in models:
        log.warning("%s %r is not a configured model (%s)", setting, name, models)
        return False
    return True


def snapshot_co_used(sessions: sessionmaker[Session], settings: Settings, *, max_sets: int = 50) -> int:
    """Build activations for the sets used together often enough; how many were started."""
    if not configured_model(settings, settings.transform_model, "MEMOS_TRANSFORM_MODEL"):
        return 0
    since = datetime.now(UTC) - timedelta(days=settings.transform_window_days)
    started = 0
    with tenant_session(sessions, SYSTEM) as session:
        rows = co_use.ripe(session, min_uses=settings.transform_min_uses, used_since=since, limit=max_sets)
        for row in rows:
            if _transform(session, row, settings):
                started += 1
    if started:
        log.info("transformations: %d activations started for memories used together", started)
    return started


def _transform(session: Session, row: MemoryCoUse, settings: Settings) -> bool:
    body = schemas.ActivationCreate(model=settings.transform_model, memory_ids=list(row.memory_ids),
                                    name=f"used together {row.uses} times")
    savepoint = session.begin_nested()
    try:
        cube, _ = load_cube(session, row.cube_id, row.tenant_id, need="write")
        head, _ = create_activation(
            session, cube, body, principal=SchedulerPrincipal(tenant_id=row.tenant_id),
            model_names=[settings.transform_model], max_text_chars=MAX_TEXT_CHARS,
            reason=f"transformation: {len(row.memory_ids)} memories carried together by {row.uses} contexts")
    except MemOSError as exc:  # a source was changed or deleted since: count the set again from scratch
        savepoint.rollback()
        log.info("co-used set %s retired: %s", row.signature, exc)
        row.uses = 0
        return False
    savepoint.commit()
    row.activation_id = head.id
    return True
