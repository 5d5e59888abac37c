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

They are added to the memory's write-time reasons and its score recomputed. One reason alone reaches the
cube's default read threshold (0.3): the memory is left out of contexts as *suspect*, not quarantined; with
another signal (a low trust, a cue) it can cross the quarantine line, and is then quarantined. Either way
the verdict is a new version (actor ``system:guard``), so the history shows when and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from memcube import schemas
from memcube.models import Memory
from memcube.repository import cubes as cubes_repo
from memos.guard import consensus
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
        if head.cube_id not in settings_of:
            cube = cubes_repo.get_cube(versions.session, head.cube_id)
            settings_of[head.cube_id] = cube_settings(cube) if cube is not None else schemas.GuardSettings()
        settings = settings_of[head.cube_id]
        if not settings.enabled or head.status != "active":
            continue
        near = established(head, neighbour_map.get(head.id, []), settings.read_threshold)
        found = [r for r in disagreements(head, near, contradicted.get(head.id, []))
                 if r not in ((head.guard or {}).get("reasons") or {})]
        if not found:
            continue
        risk = Risk(reasons=dict((head.guard or {}).get("reasons") or {}))
        for reason in found:
            risk.add(reason, NEIGHBOUR_WEIGHT)
        risk.finish(TRUSTED_FACTOR if listed(head.provenance or {}, settings.trusted_sources) else 1.0)
        head.risk = risk.score
        head.guard = risk.verdict(by="neighbours", note="disagrees with its established neighbours")
        reason = "guard: disagrees with its established neighbours (" + ", ".join(found) + ")"
        if risk.score >= settings.quarantine_threshold:
            head.status = "quarantined"
            reason += "; quarantined"
        SCREENED.labels("quarantined" if head.status == "quarantined" else "flagged").inc()
        versions.add(head, reason=reason, actor=ACTOR)
        flagged += 1
    return flagged
