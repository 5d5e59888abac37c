"""Every SDK method of ``MemOSClient`` against a live server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from memcube.schemas import Cube, JobStatus, MemoryCreate, MemoryStatus, Provenance, SearchFilters
from memos.client import MemOSClient, NotFoundError
from tests.sdk.live import LiveServer


def test_health(client: MemOSClient) -> None:
    health = client.health()
    assert health["status"] == "ok"
    assert health["database"] == "ok"


def test_tenants_and_keys(admin: MemOSClient, live_server: LiveServer) -> None:
    tenant = admin.create_tenant("globex")
    assert tenant.name == "globex"
    assert tenant.id in {t.id for t in admin.list_tenants()}
    created = admin.create_key(tenant.id, "ci")
    assert created.key.startswith("mk_")
    assert created.tenant_id == tenant.id
    with MemOSClient(live_server.url, api_key=created.key) as c:
        assert c.list_cubes() == []
        c.revoke_key(created.id)  # a tenant may revoke its own key
        with pytest.raises(Exception, match="401"):
            c.list_cubes()


def test_cubes_and_grants(
    client: MemOSClient, admin: MemOSClient, live_server: LiveServer, tenant_key: tuple[uuid.UUID, str]
) -> None:
    cube = client.create_cube("travel", description="trips")
    assert (cube.name, cube.description, cube.access) == ("travel", "trips", "owner")
    assert client.get_cube(cube.id) == cube
    assert [c.id for c in client.list_cubes()] == [cube.id]

    other = admin.create_tenant("partner")
    other_key = admin.create_key(other.id).key
    grant = client.grant(cube.id, other.id, "read")
    assert (grant.cube_id, grant.tenant_id, grant.access.value) == (cube.id, other.id, "read")
    assert [g.tenant_id for g in client.list_grants(cube.id)] == [other.id]
    with MemOSClient(live_server.url, api_key=other_key) as partner:
        assert partner.get_cube(cube.id).access == "read"
        client.revoke_grant(cube.id, other.id)
        with pytest.raises(NotFoundError):
            partner.get_cube(cube.id)
    assert client.list_grants(cube.id) == []

    client.delete_cube(cube.id)
    with pytest.raises(NotFoundError):
        client.get_cube(cube.id)


def test_memories_crud_history_rollback_as_of(client: MemOSClient, cube: Cube) -> None:
    when = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    [first, second] = client.add_memories(cube.id, [
        MemoryCreate(content="Alice likes tea", tags=["drinks"], metadata={"src": "chat"}, event_time=when,
                     role="Alice", session_id="s1", provenance=Provenance(source="user", trust=0.9)),
        {"content": "Bob likes coffee", "tags": ["drinks"]},
    ])
    assert (first.content, first.tags, first.metadata, first.role, first.session_id) == (
        "Alice likes tea", ["drinks"], {"src": "chat"}, "Alice", "s1")
    assert first.event_time == when
    assert first.provenance is not None
    assert first.provenance.trust == 0.9
    assert second.version == 1
    [plain] = client.add_memories(cube.id, ["just a string"])
    assert plain.content == "just a string"

    assert client.get_memory(first.id).content == "Alice likes tea"
    updated = client.update_memory(first.id, content="Alice loves green tea", reason="more precise",
                                   expected_version=1)
    assert (updated.version, updated.content) == (2, "Alice loves green tea")
    assert client.get_memory(first.id, as_of=first.updated_at).content == "Alice likes tea"
    assert client.get_memory(first.id, as_of=first.updated_at.isoformat()).version == 1

    deleted = client.delete_memory(first.id, reason="obsolete")
    assert deleted.status is MemoryStatus.deleted
    rolled = client.rollback(first.id, 2, reason="undo delete")
    assert (rolled.version, rolled.status, rolled.content) == (4, MemoryStatus.active, "Alice loves green tea")

    versions = client.history(first.id)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert [v.reason for v in versions][1:] == ["more precise", "obsolete", "undo delete"]


def test_list_memories_and_pagination(client: MemOSClient, cube: Cube) -> None:
    written = client.add_memories(cube.id, [{"content": f"fact {i}", "tags": ["odd" if i % 2 else "even"]}
                                            for i in range(7)])
    page = client.list_memories(cube.id, limit=3)
    assert len(page.memories) == 3
    assert page.next_cursor
    assert [m.id for m in client.iter_memories(cube.id, page_size=3)] == [m.id for m in written]
    assert [m.content for m in client.iter_memories(cube.id, tag="odd")] == ["fact 1", "fact 3", "fact 5"]
    client.delete_memory(written[0].id)
    assert len(list(client.iter_memories(cube.id, status="deleted"))) == 1
    assert client.list_memories(cube.id, kind="plaintext", limit=100).next_cursor is None


def test_search_modes_and_filters(client: MemOSClient, cube: Cube) -> None:
    client.add_memories(cube.id, [
        {"content": "Caroline went to a LGBTQ support group", "role": "Caroline", "tags": ["events"]},
        {"content": "Melanie painted a sunrise over the lake", "role": "Melanie", "tags": ["art"]},
        {"content": "The weather in Paris was rainy", "role": "Melanie"},
    ])
    for mode in ("hybrid", "dense", "lexical"):
        results = client.search(cube.id, "support group", top_k=2, mode=mode)
        assert results[0].memory.content == "Caroline went to a LGBTQ support group", mode
    scores = [r.score for r in client.search(cube.id, "painting", top_k=3)]
    assert scores == sorted(scores, reverse=True)
    only_melanie = client.search(cube.id, "support group", filters={"role": "Melanie"})
    assert {r.memory.role for r in only_melanie} == {"Melanie"}
    tagged = client.search(cube.id, "anything", filters=SearchFilters(tags=["art"]))
    assert [r.memory.content for r in tagged] == ["Melanie painted a sunrise over the lake"]


def test_messages_enqueue_a_job(client: MemOSClient, cube: Cube) -> None:
    # The live server runs no workers: the consolidation job stays queued, which is what we can check here.
    at = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "I moved to Berlin last week", "timestamp": at},
        {"role": "assistant", "content": "Congratulations on the move!"},
    ]
    accepted = client.add_messages(cube.id, messages, session_id="chat-1", idempotency_key="k1")
    assert len(accepted.message_ids) == 2
    assert accepted.job_id is not None
    again = client.add_messages(cube.id, messages, session_id="chat-1", idempotency_key="k1")
    assert (again.job_id, again.message_ids) == (accepted.job_id, accepted.message_ids)

    job = client.get_job(accepted.job_id)
    assert (job.id, job.cube_id, job.status) == (accepted.job_id, cube.id, JobStatus.queued)
    assert accepted.job_id in [j.id for j in client.list_jobs(cube.id, limit=10)]


def test_links_and_graph(client: MemOSClient, cube: Cube) -> None:
    # Links are made by the linking job, which this server (no workers) does not run: the shapes are real.
    a, b = client.add_memories(cube.id, ["Alice likes tea", "Alice drinks tea every morning"])
    assert client.list_links(a.id) == []
    graph = client.get_graph(cube.id, limit=10)
    assert graph.cube_id == cube.id
    assert {n.id for n in graph.nodes} == {a.id, b.id}
    assert (graph.edges, graph.truncated) == ([], False)
    assert len(client.get_graph(cube.id, limit=1).nodes) == 1
    with pytest.raises(NotFoundError):
        client.list_links(uuid.uuid4())


def test_jobs(client: MemOSClient, cube: Cube) -> None:
    assert client.list_jobs(cube.id, limit=10) == []  # nothing written yet, nothing to do
    with pytest.raises(NotFoundError):
        client.get_job(uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.list_jobs(uuid.uuid4())
