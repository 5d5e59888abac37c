"""The plaintext lifecycle's archive: cold memories leave the default search as versions by the scheduler,
a search with include_archived finds them, and their use restores them (through the access-statistics flush)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory
from memcube.repository.memories import add_access_counts
from memos.config import Settings
from memos.jobs import sweeps


def search(client: TestClient, cube_id: str, auth: dict[str, str], query: str, **body: object) -> list[str]:
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": query, "top_k": 5, **body}, headers=auth)
    assert r.status_code == 200, r.text
    return [h["memory"]["content"] for h in r.json()["results"]]


def test_cold_memories_are_archived_found_on_request_and_restored_on_use(
    client: TestClient, sessions: sessionmaker[Session], job_settings: Settings, auth: dict[str, str],
    cube_id: str, app_state: AppState,
) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [
        {"content": "The old boiler was replaced in 2019."},
        {"content": "The boiler is serviced every autumn."},
        {"content": "The boiler manual is in the garage."},
    ]}, headers=auth)
    old, busy, recent = (uuid.UUID(m["id"]) for m in r.json()["memories"])
    long_ago = datetime.now(UTC) - timedelta(days=90)
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(update(Memory).where(Memory.id.in_([old, busy])).values(created_at=long_ago))
        s.execute(update(Memory).where(Memory.id == busy).values(heat=3.0))
        add_access_counts(s, {busy: 1}, long_ago)

    settings = job_settings.model_copy(update={"archive_after_days": 30, "archive_heat_below": 0.5})
    assert sweeps.archive_cold(sessions, settings) == 1  # only the unused, cold one; not the hot, not the recent
    assert sweeps.archive_cold(sessions, settings) == 0
    got = client.get(f"/v1/memories/{old}", headers=auth).json()
    assert (got["status"], got["tier"]) == ("archived", "archived")
    history = client.get(f"/v1/memories/{old}/history", headers=auth).json()
    versions = history["versions"] if isinstance(history, dict) else history
    assert versions[-1]["actor"] == sweeps.SCHEDULER_ACTOR
    assert versions[-1]["reason"].startswith("archived: cold")

    assert "The old boiler was replaced in 2019." not in search(client, cube_id, auth, "When was the boiler replaced?")
    found = search(client, cube_id, auth, "When was the boiler replaced?", include_archived=True)
    assert "The old boiler was replaced in 2019." in found
    app_state.access.flush()  # the access statistics' flush restores what was found
    got = client.get(f"/v1/memories/{old}", headers=auth).json()
    assert (got["status"], got["tier"]) == ("active", "long_term")
    history = client.get(f"/v1/memories/{old}/history", headers=auth).json()
    versions = history["versions"] if isinstance(history, dict) else history
    assert [(v["status"], v["reason"]) for v in versions[-2:]][-1] == ("active", "restored on use")
    assert "The old boiler was replaced in 2019." in search(client, cube_id, auth, "When was the boiler replaced?")


def test_superseded_memories_are_found_with_include_archived_but_not_restored(
    client: TestClient, sessions: sessionmaker[Session], auth: dict[str, str], cube_id: str, app_state: AppState,
) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "Dana lives in Boston."}]},
                    headers=auth)
    memory_id = uuid.UUID(r.json()["memories"][0]["id"])
    with tenant_session(sessions, SYSTEM) as s:  # what consolidation does when a newer fact replaces it
        s.execute(update(Memory).where(Memory.id == memory_id).values(status="archived"))
    assert "Dana lives in Boston." in search(client, cube_id, auth, "Where does Dana live?", include_archived=True)
    app_state.access.flush()
    assert client.get(f"/v1/memories/{memory_id}", headers=auth).json()["status"] == "archived"


def test_the_archive_sweep_is_off_at_zero_days(sessions: sessionmaker[Session], job_settings: Settings) -> None:
    assert sweeps.archive_cold(sessions, job_settings.model_copy(update={"archive_after_days": 0})) == 0
