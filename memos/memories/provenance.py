"""Provenance a client may assert, and what the server fills in.

Provenance is what the guard and readers trust, so a client cannot write the parts that only the server
knows: a reserved ``source`` (``system``, ``consolidation``: what the server's own jobs write), an ``actor``
other than itself (the server sets ``key:<key id>``), or a ``trust`` above its key's ``max_trust``. Each is
refused with a 422 naming the field, not silently changed: a client that asked for more than it may assert
learns so at once, and what is stored is what it sent. Who caused a version and which job wrote it are not
provenance at all: they live in server-only columns (``memos.memories.versions.Attribution``).
"""

from __future__ import annotations

from typing import Any

from memcube import schemas
from memos.errors import InvalidInput

RESERVED_SOURCES = frozenset({schemas.SourceType.system, schemas.SourceType.consolidation})
DEFAULT_TRUST = 0.5  # Provenance's default; lowered to the key's ceiling when that is lower


def client_provenance(p: schemas.Provenance | None, *, actor: str, max_trust: float) -> dict[str, Any]:
    """The provenance to store for a client's write, or ``InvalidInput`` (422) if it asserts what the
    client may not. ``actor`` is the caller as the server names it; ``max_trust`` its key's ceiling."""
    prov = p or schemas.Provenance()
    given = prov.model_fields_set
    if prov.source in RESERVED_SOURCES:
        raise InvalidInput(f"provenance.source {prov.source.value!r} is reserved for the server's own writes;"
                           " use agent, user, tool or import")
    if prov.actor is not None and prov.actor != actor:
        raise InvalidInput(f"provenance.actor must be {actor!r} (the calling key) or left out;"
                           " the server sets it")
    trust = prov.trust if "trust" in given else min(DEFAULT_TRUST, max_trust)
    if trust > max_trust:
        raise InvalidInput(f"provenance.trust {trust} is above this key's ceiling (max_trust {max_trust})")
    data = prov.model_dump(mode="json")
    data.update(actor=actor, trust=trust)
    return data

