"""Write-time consensus: each new plaintext memory against the established memories nearest to it.

The read-time check (``memos.guard.read``) weighs a record against what one query retrieved with it; a
planted record whose better-placed counterparts a query does not happen to retrieve passes it. This check
runs in the background job every new or changed plaintext memory already gets (``linking.link``, which has
just found the memory's nearest neighbours and typed the links to them) and compares the memory with its
*established* neighbours: older, active, not suspect themselves. Reasons, each ``NEIGHBOUR_WEIGHT``:

* ``unbacked_hearsay``: it speaks of a person in the third person and that person's own neighbouring
  records do not back it;
* ``outvoted_by_neighbours``: it is low-trust and better-trusted neighbours on its topic do not back it;
* ``contradicts_established``: linking typed a ``contradicts`` link from it to an established memory of
  another speaker written with at least its trust (a person may correct themselves: see consolidation's
  authority rule).

A fourth, ``claim_burst`` (:mod:`memos.guard.bursts`), needs no neighbour to outrank the memory: the same
source wrote copies of its claim just before it (:func:`flag_bursts`, run after the links are written);
every record of the burst is flagged, the earlier ones too.

They are added to the memory's write-time reasons and its score recomputed. One reason alone reaches the
cube's default read threshold (0.3): the memory is left out of contexts as *suspect*, not quarantined; with
another signal (a low trust, a cue) it can cross the quarantine line, and is then quarantined. Either way
the verdict is a new version (actor ``system:guard``), so the history shows when and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Memory
from memcube.repository import cubes as cubes_repo
from memcube.repository import guard as guard_repo
from memcube.repository import memories as memories_repo
from memos.guard import bursts, consensus
from memos.guard.metrics import SCREENED
from memos.guard.read import TRUST_MARGIN
from memos.guard.screen import LOW_TRUST, TRUSTED_FACTOR, Risk, cube_settings, listed
from memos.memories.versions import VersionBatch

ACTOR = "system:guard"
NEIGHBOUR_WEIGHT = 0.3
REASONS = {"hearsay": "unbacked_hearsay", "outvoted": "outvoted_by_neighbours"}


def established(head: Memory, near: Iterable[tuple[Memory, float]],
                read_threshold: float) -> list[tuple[Memory, float]]:
    """The neighbours that count as the consensus: written before the memory, active, not suspect."""
    return [(n, sim) for n, sim in near
            if n.created_at < head.created_at and n.status == "active" and (n.risk or 0.0) < read_threshold]


def _record(m: Memory) -> consensus.Record:
    return consensus.Record(m.content, m.role, float(m.trust or 0.0), None)


def disagreements(head: Memory, near: list[tuple[Memory, float]], contradicted: Iterable[Memory]) -> list[str]:
    """The reasons ``head`` stands apart from its established neighbours ``near``."""
    derived = (head.provenance or {}).get("source") == schemas.SourceType.consolidation
    found = consensus.against_neighbours(_record(head), [(_record(n), sim) for n, sim in near], low_trust=LOW_TRUST,
                                         margin=TRUST_MARGIN, exempt=derived)
    out = [REASONS[r] for r in found]
    ids = {n.id for n, _ in near}
    mine = consensus.speaker(head.role)
    if any(t.id in ids and float(t.trust or 0.0) >= float(head.trust or 0.0) and consensus.speaker(t.role) != mine
           for t in contradicted):
        out.append("contradicts_established")
    return out


def check(heads: list[Memory], neighbour_map: dict[uuid.UUID, list[tuple[Memory, float]]],
          contradicted: dict[uuid.UUID, list[Memory]], versions: VersionBatch) -> int:
    """Score each head against its established neighbours; a head that gains a reason gets a new version in
    ``versions`` (quarantined when its score reaches the cube's threshold). Returns how many were flagged."""
    flagged = 0
    settings_of: dict[uuid.UUID, schemas.GuardSettings] = {}
    for head in heads:
        settings = _settings(versions.session, head.cube_id, settings_of)
        if not settings.enabled or head.status != "active":
            continue
        near = established(head, neighbour_map.get(head.id, []), settings.read_threshold)
        found = [r for r in disagreements(head, near, contradicted.get(head.id, []))
                 if r not in ((head.guard or {}).get("reasons") or {})]
        if not found:
            continue
        _flag(head, {r: NEIGHBOUR_WEIGHT for r in found}, settings, versions,
              note="disagrees with its established neighbours")
        flagged += 1
    return flagged


def _settings(session: Session, cube_id: uuid.UUID, known: dict[uuid.UUID, schemas.GuardSettings]
              ) -> schemas.GuardSettings:
    """The cube's guard settings, read once per job (``known`` holds those read so far)."""
    if cube_id not in known:
        cube = cubes_repo.get_cube(session, cube_id)
        known[cube_id] = cube_settings(cube) if cube is not None else schemas.GuardSettings()
    return known[cube_id]


def _flag(m: Memory, found: dict[str, float], settings: schemas.GuardSettings, versions: VersionBatch, *,
          note: str) -> None:
    """Add ``found`` to the memory's reasons, recompute its score (quarantined at the cube's threshold) and
    version it."""
    risk = Risk(reasons=dict((m.guard or {}).get("reasons") or {}))
    for reason, weight in found.items():
        risk.add(reason, weight)
    risk.finish(TRUSTED_FACTOR if listed(m.provenance or {}, settings.trusted_sources) else 1.0)
    m.risk = risk.score
    m.guard = risk.verdict(by="neighbours", note=note)
    reason = f"guard: {note} (" + ", ".join(found) + ")"
    if risk.score >= settings.quarantine_threshold:
        m.status = "quarantined"
        reason += "; quarantined"
    SCREENED.labels("quarantined" if m.status == "quarantined" else "flagged").inc()
    versions.add(m, reason=reason, actor=ACTOR)


def flag_bursts(session: Session, heads: list[Memory], versions: VersionBatch) -> int:
    """Each head that completes a claim burst (:mod:`memos.guard.bursts`) with the records its source wrote
    just before it: the head and those records, when active and not flagged for it yet, get ``claim_burst``
    (a new version each). Call it once the heads' other versions are written (it locks and reads the earlier
    records again). Returns how many memories were flagged."""
    settings_of: dict[uuid.UUID, schemas.GuardSettings] = {}
    members: dict[uuid.UUID, tuple[Memory | None, uuid.UUID]] = {}  # id -> (the head itself or None, cube)
    for head in heads:
        if head.kind != "plaintext" or head.status not in ("active", "quarantined"):
            continue
        if not _settings(session, head.cube_id, settings_of).enabled:
            continue
        recent = guard_repo.source_recent(session, head, head.created_at - bursts.WINDOW, bursts.SOURCE_RECENT)
        found = bursts.burst(head.content, [r.content for r in recent], head.role)
        if found:
            members[head.id] = (head, head.cube_id)
            for i in found:
                members.setdefault(recent[i].id, (None, head.cube_id))
    heads_by_id = {h.id: h for h in heads}
    # The earlier records: locked and read again (another job may have versioned them since they were read).
    earlier = {m.id: m for m in memories_repo.get_memories(
        session, [i for i in members if i not in heads_by_id], lock=True, with_embedding=False, refresh=True)}
    flagged = 0
    for mid, (own, cube_id) in members.items():
        m = own if own is not None else heads_by_id.get(mid) or earlier.get(mid)
        if m is None or m.status != "active" or bursts.REASON in ((m.guard or {}).get("reasons") or {}):
            continue
        _flag(m, {bursts.REASON: bursts.WEIGHT}, settings_of[cube_id], versions,
              note="one of several copies of a claim its source wrote in a burst")
        flagged += 1
    return flagged
