"""What each dashboard page shows, read through the services the REST API uses (same access checks, same
row-level security); the routes only render it. Every list is a keyset page of at most ``MAX_PAGE`` rows.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from api.dashboard import diff
from api.dashboard.auth import Viewer
from api.state import AppState
from memcube import schemas
from memcube.models import Cube, Job, Memory, MemoryLink, MemoryVersion
from memcube.repository import dashboard as repo
from memcube.repository import links as links_repo
from memos.config import Settings
from memos.cubes.service import access_level
from memos.embedding import Embedder
from memos.errors import InvalidInput, NotFound
from memos.guard import review as guard
from memos.linking import graph
from memos.memories import service as memories
from memos.retrieval import service as retrieval
from memos.scheduler import schemas as scheduler_schemas
from memos.scheduler import service as scheduler

PAGE = 25
MAX_PAGE = 100
GRAPH_NODES = 150  # the graph page's default: readable on a screen, drawn in well under a second
KINDS = [k.value for k in schemas.MemoryKind]
STATUSES = [s.value for s in schemas.MemoryStatus]
JOB_STATUSES = [s.value for s in schemas.JobStatus]
TIERS = [t.value for t in schemas.Tier]


# ---------------------------------------------------------------- keyset cursors of the dashboard's own lists
def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        created, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(rid)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("this page link is malformed (a bad cursor): start from the first page") from exc


# ---------------------------------------------------------------- overview
@dataclass
class CubeRow:
    cube: Cube
    owner: str
    access: str
    counts: dict[str, int]

    @property
    def live(self) -> int:
        return sum(n for s, n in self.counts.items() if s != "deleted")


@dataclass
class TierStatus:
    """The payload tiers of this serving process (``memos.scheduler``): the live status and latest moves once the
    activation runtime has started, else the configured budgets (reading it must not load a model)."""

    running: bool
    policy: str
    tiers: list[dict[str, Any]]
    misses: int = 0
    prefetches: int = 0
    prefetch_hits: int = 0
    load_bytes: int = 0
    moves: list[scheduler_schemas.TierMove] = field(default_factory=list)


MOVES_SHOWN = 10


def tier_status(viewer: Viewer, state: AppState) -> TierStatus:
    runtime = state._activation  # made on first use (it imports the model stack): only read here
    if runtime is not None:
        st = scheduler.status(runtime)
        # A tenant sees its own payloads' moves, the admin all of them (as GET /v1/scheduler/events).
        moves = scheduler.events(viewer.session, runtime, tenant_id=viewer.principal.tenant_id, limit=MOVES_SHOWN)
        return TierStatus(running=True, policy=st.policy, tiers=[t.model_dump() for t in st.tiers],
                          misses=st.misses, prefetches=st.prefetches, prefetch_hits=st.prefetch_hits,
                          load_bytes=st.load_bytes, moves=moves)
    s = state.settings
    budgets = [("gpu", s.tier_gpu_bytes), ("cpu", s.tier_cpu_bytes)]
    return TierStatus(running=False, policy=s.tier_policy,
                      tiers=[{"name": n, "budget_bytes": b} for n, b in budgets if b > 0])


@dataclass
class Overview:
    matrix: dict[str, dict[str, int]]  # kind -> status -> n
    totals: dict[str, int]  # status -> n
    jobs: dict[str, int]
    failed_jobs: list[Job]
    quarantined: int
    lessons_week: int
    tiers: list[tuple[str, int]]
    payloads: list[tuple[str, int, int]]
    tenants: int | None
    cube_count: int
    cubes: list[CubeRow]
    next_cursor: str | None
    cube_names: dict[uuid.UUID, str] = field(default_factory=dict)
    process_tiers: TierStatus | None = None


def overview(viewer: Viewer, state: AppState, *, cursor: str | None, limit: int) -> Overview:
    s = viewer.session
    matrix = {k: dict.fromkeys(STATUSES, 0) for k in KINDS}
    totals = dict.fromkeys(STATUSES, 0)
    tiers: dict[str, int] = {}
    for kind, status, tier, n in repo.memory_counts(s):
        row = matrix.setdefault(kind, dict.fromkeys(STATUSES, 0))
        row[status] = row.get(status, 0) + n
        totals[status] = totals.get(status, 0) + n
        if status != "deleted":
            tiers[tier] = tiers.get(tier, 0) + n
    jobs = dict.fromkeys(JOB_STATUSES, 0) | dict(repo.job_counts(s))
    failed = repo.jobs_page(s, limit=5, after=None, status="failed")
    cubes = repo.cubes_page(s, limit=limit + 1, after=decode_cursor(cursor))
    more = len(cubes) > limit
    cubes = cubes[:limit]
    counts = repo.per_cube_counts(s, [c.id for c in cubes])
    owners = repo.tenant_names(s, list({c.tenant_id for c in cubes})) if viewer.is_admin else {}
    rows = []
    for c in cubes:
        if viewer.is_admin:
            owner, access = owners.get(c.tenant_id, str(c.tenant_id)), "admin"
        else:
            assert viewer.principal.tenant_id is not None
            access = access_level(s, c, viewer.principal.tenant_id)
            owner = "you" if access == "owner" else str(c.tenant_id)
        rows.append(CubeRow(cube=c, owner=owner, access=access, counts=counts.get(c.id, {})))
    return Overview(
        matrix=matrix, totals=totals, jobs=jobs, failed_jobs=failed, quarantined=totals.get("quarantined", 0),
        lessons_week=repo.lesson_count(s, since=datetime.now(UTC) - timedelta(days=7)),
        tiers=sorted(tiers.items()), payloads=repo.payload_residency(s),
        tenants=repo.tenant_count(s) if viewer.is_admin else None, cube_count=repo.cube_count(s),
        cubes=rows, next_cursor=encode_cursor(cubes[-1].created_at, cubes[-1].id) if more and cubes else None,
        cube_names=repo.cube_names(s, [j.cube_id for j in failed if j.cube_id]),
        process_tiers=tier_status(viewer, state),
    )


# ---------------------------------------------------------------- a cube: list or search
@dataclass
class CubePage:
    cube: Cube
    access: str
    counts: dict[str, int]
    memories: list[Memory]
    next_cursor: str | None
    query: str | None
    scores: dict[uuid.UUID, float]


def search_request(query: str, *, mode: str, top_k: int) -> schemas.SearchRequest:
    try:
        return schemas.SearchRequest(query=query, mode=mode, top_k=top_k)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise InvalidInput("the search could not run: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())) from exc


def cube_page(viewer: Viewer, cube_id: uuid.UUID, *, query: str | None, mode: str, status: str | None,
              kind: str | None, cursor: str | None, limit: int, embedder: Embedder, settings: Settings) -> CubePage:
    cube, access, _ = viewer.enter_cube(cube_id)
    s = viewer.session
    counts: dict[str, int] = {}
    for _, st, _, n in repo.memory_counts(s, cube.id):
        counts[st] = counts.get(st, 0) + n
    if query:
        req = search_request(query, mode=mode, top_k=min(limit, 100))
        hits = retrieval.search(s, cube, req, embedder=embedder, settings=settings)
        return CubePage(cube, access, counts, [h.memory for h in hits], None, query,
                        {h.memory.id: h.score for h in hits})
    rows, next_cursor = memories.list_memories(s, cube, limit=limit, cursor=cursor, status=status, kind=kind,
                                               tag=None)
    return CubePage(cube, access, counts, rows, next_cursor, None, {})


# ---------------------------------------------------------------- a memory
@dataclass
class LinkRow:
    link: schemas.Link
    other: Memory | None


@dataclass
class MemoryPage:
    head: Memory
    cube: Cube
    versions: list[MemoryVersion]  # newest first, one page of them
    version_page: int
    version_pages: int
    old: MemoryVersion | None
    new: MemoryVersion
    content_diff: list[diff.Segment]
    field_changes: list[diff.FieldChange]
    links: list[LinkRow]
    sources: list[Memory]
    produced: list[Memory]
    can_review: bool


VERSIONS_PAGE = 20
LINKS_SHOWN = 50
PROVENANCE_SHOWN = 20


def memory_page(viewer: Viewer, memory_id: uuid.UUID, *, a: int | None, b: int | None, page: int) -> MemoryPage:
    acting = viewer.enter_memory(memory_id)
    assert acting.tenant_id is not None
    s = viewer.session
    head, cube = memories.get_memory(s, memory_id, acting.tenant_id)
    history = memories.history(s, memory_id, acting.tenant_id)  # oldest first
    by_number = {v.version: v for v in history}
    new = by_number.get(b) if b is not None else history[-1]
    if new is None:
        raise NotFound(f"version {b} not found: this memory has versions 1 to {history[-1].version}")
    old_number = a if a is not None else new.version - 1
    old = by_number.get(old_number)
    if a is not None and old is None:
        raise NotFound(f"version {a} not found: this memory has versions 1 to {history[-1].version}")
    newest_first = list(reversed(history))
    pages = max(1, -(-len(newest_first) // VERSIONS_PAGE))
    page = min(max(page, 1), pages)
    shown = newest_first[(page - 1) * VERSIONS_PAGE: page * VERSIONS_PAGE]
    links = graph.memory_links(s, head.id)[:LINKS_SHOWN]
    others = {m.id: m for m in repo.memories_by_id(s, [lk.other_id for lk in links])}
    prov = head.provenance or {}
    source_ids = [uuid.UUID(str(i)) for i in (prov.get("memory_ids") or [])[:PROVENANCE_SHOWN]]
    access = "owner" if viewer.is_admin else access_level(s, cube, acting.tenant_id)
    return MemoryPage(
        head=head, cube=cube, versions=shown, version_page=page, version_pages=pages, old=old, new=new,
        content_diff=diff.words(old.content if old else "", new.content),
        field_changes=diff.fields(old, new) if old else [],
        links=[LinkRow(lk, others.get(lk.other_id)) for lk in links],
        sources=repo.memories_by_id(s, source_ids),
        produced=repo.produced_from(s, head.id, limit=PROVENANCE_SHOWN),
        can_review=head.status == "quarantined" and access == "owner",
    )


# ---------------------------------------------------------------- the quarantine queue and its review
@dataclass
class QuarantinePage:
    cube: Cube
    memories: list[Memory]
    next_cursor: str | None


def quarantine_page(viewer: Viewer, cube_id: uuid.UUID, *, cursor: str | None, limit: int) -> QuarantinePage:
    cube, _, acting = viewer.enter_cube(cube_id, need="owner")
    assert acting.tenant_id is not None
    if cursor is not None and re.fullmatch(guard.CURSOR_PATTERN, cursor) is None:
        raise InvalidInput("this page link is malformed (a bad cursor): start from the first page")
    rows, next_cursor = guard.quarantine(viewer.session, cube.id, acting.tenant_id, limit=limit, cursor=cursor)
    return QuarantinePage(cube, rows, next_cursor)


def review(viewer: Viewer, memory_id: uuid.UUID, *, decision: str, note: str | None) -> Memory:
    """Approve or reject a quarantined memory as its cube's owner (the admin acts as the owner, and the version
    names ``admin``); the caller commits."""
    acting = viewer.enter_memory(memory_id)
    try:
        body = schemas.ReviewRequest(decision=decision, note=note or None)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise InvalidInput("the review was not understood: choose approve or reject (a note of at most 2,000 "
                           "characters)") from exc
    return guard.review(viewer.session, memory_id, acting, body)


# ---------------------------------------------------------------- jobs
@dataclass
class JobsPage:
    jobs: list[Job]
    next_cursor: str | None
    cube_names: dict[uuid.UUID, str]
    counts: dict[str, int]
    cube: Cube | None


def jobs_page(viewer: Viewer, *, status: str | None, cube_id: uuid.UUID | None, cursor: str | None,
              limit: int) -> JobsPage:
    cube = viewer.enter_cube(cube_id)[0] if cube_id is not None else None
    s = viewer.session
    rows = repo.jobs_page(s, limit=limit + 1, after=decode_cursor(cursor), status=status, cube_id=cube_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return JobsPage(
        jobs=rows, next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
        cube_names=repo.cube_names(s, list({j.cube_id for j in rows if j.cube_id})),
        counts=dict.fromkeys(JOB_STATUSES, 0) | dict(repo.job_counts(s)), cube=cube,
    )


# ---------------------------------------------------------------- the graph
def _label(text: str, n: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


PER_HUB = 5  # neighbours drawn around each hub before the next hub: a map of several clusters, not one star


def hub_nodes(viewer: Viewer, cube_id: uuid.UUID, *, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` memories: the most linked ones, each with its strongest neighbours, so that the links
    drawn are the links that matter (the most linked memories alone are mostly linked to memories left out)."""
    s = viewer.session
    centres = repo.hubs(s, cube_id, limit=limit)
    around: dict[uuid.UUID, list[uuid.UUID]] = {h: [] for h in centres}
    for source, target, _ in repo.links_of_many(s, centres):
        for hub, other in ((source, target), (target, source)):
            if hub in around and other not in around[hub]:
                around[hub].append(other)
    chosen: dict[uuid.UUID, None] = {}
    for per_hub in (PER_HUB, limit):  # then whatever room is left, hub by hub
        for hub in centres:
            chosen.setdefault(hub)
            for other in around[hub][:per_hub]:
                if len(chosen) >= limit:
                    return list(chosen)[:limit]
                chosen.setdefault(other)
            if len(chosen) >= limit:
                return list(chosen)[:limit]
    return list(chosen)


def _node(m: Memory, degree: int, community: int) -> dict[str, Any]:
    return {"id": str(m.id), "label": _label(m.content), "content": m.content, "degree": degree,
            "community": community, "tags": list(m.tags or [])}


def _edge(lk: MemoryLink) -> dict[str, Any]:
    return {"source": str(lk.source_id), "target": str(lk.target_id), "type": lk.type, "strength": lk.strength,
            "reason": lk.reason or ""}


def graph_data(viewer: Viewer, cube_id: uuid.UUID, *, limit: int, center: uuid.UUID | None) -> dict[str, Any]:
    """Cytoscape elements for at most ``limit`` live memories of the cube: its hubs and their strongest
    neighbours, or one memory and the memories linked to it (``center``); never the whole cube."""
    cube, _, _ = viewer.enter_cube(cube_id)
    s = viewer.session
    if center is None:
        ids = hub_nodes(viewer, cube.id, limit=limit + 1)
        if not ids:  # no links yet: the newest memories, as the REST graph gives them
            g = graph.cube_graph(s, cube, limit=limit)
            return {"cube_id": str(cube.id), "nodes": [
                {"id": str(n.id), "label": _label(n.content), "content": n.content, "degree": 0,
                 "community": n.community, "tags": n.tags} for n in g.nodes],
                "edges": [], "truncated": g.truncated, "center": None, "communities": len(g.communities)}
    else:
        ids = repo.neighbourhood(s, center, limit=limit + 1)
    found = {m.id: m for m in repo.memories_by_id(s, ids) if m.cube_id == cube.id and m.status == "active"}
    if center is not None and center not in found:
        raise NotFound("memory not found among this cube's live memories")
    order = [i for i in ids if i in found]
    truncated = len(order) > limit
    order = order[:limit]
    links = links_repo.edges_among(s, order)
    nxg, communities = graph.louvain(order, links)
    community = {mid: i for i, c in enumerate(communities) for mid in c}
    return {"cube_id": str(cube.id), "nodes": [_node(found[i], int(nxg.degree(i)), community.get(i, -1))
                                               for i in order],
            "edges": [_edge(lk) for lk in links], "truncated": truncated,
            "center": str(center) if center else None, "communities": len(communities)}
