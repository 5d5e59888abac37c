"""Zettelkasten linking: enrichment, typed links by id, evolution as versions, graph, isolation, sweep."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memos.config import Settings
from memos.embedding import Embedder
from memos.linking.sweeps import relink_stale
from tests.api.helpers import add
from tests.consolidation.helpers import Auth, pending_jobs, run


def _add_and_link(client: TestClient, cube_id: str, auth: Auth, sessions: sessionmaker[Session],
                  settings: Settings, embedder: Embedder, *contents: str) -> list[dict[str, Any]]:
    before = {j.id for j in pending_jobs(sessions, "linking.link")}
    created = add(client, cube_id, auth, *contents)
    (job,) = [j for j in pending_jobs(sessions, "linking.link") if j.id not in before]  # one job per request
    assert sorted(job.payload["memory_ids"]) == sorted(m["id"] for m in created)
    run(sessions, job.id, settings, embedder)
    return created


def test_links_by_id_with_types_and_enrichment(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    paris, acme = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                                "Alice lives in Paris.", "Alice works at Acme Corp.")
    berlin, jazz = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                                 "Alice lives in Berlin.", "Bob plays jazz piano in Chicago.")
    out = client.get(f"/v1/memories/{berlin['id']}/links", headers=auth).json()
    edges = {(lk["direction"], lk["other_id"]): lk for lk in out["links"]}
    assert edges[("out", paris["id"])]["type"] == "contradicts"  # same slot, another value
    assert edges[("out", acme["id"])]["type"] == "same_entity"
    assert "alice" in edges[("out", acme["id"])]["reason"]
    assert all(0.0 <= lk["strength"] <= 1.0 for lk in out["links"])
    assert ("out", jazz["id"]) not in edges
    # the other end sees the same edge as incoming
    incoming = client.get(f"/v1/memories/{paris['id']}/links", headers=auth).json()["links"]
    assert any(lk["direction"] == "in" and lk["other_id"] == berlin["id"] for lk in incoming)

    got = client.get(f"/v1/memories/{berlin['id']}", headers=auth).json()
    assert "berlin" in got["keywords"]
    assert {"alice", "berlin", "residence"} <= set(got["tags"])
    assert got["context"].startswith("About Alice: residence")
    history = client.get(f"/v1/memories/{berlin['id']}/history", headers=auth).json()["versions"]
    assert [v["actor"] for v in history][-1] == "system:linking"


def test_evolution_writes_versions(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    (dog,) = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                           "Alice adopted a golden retriever from the shelter.")
    v_before = client.get(f"/v1/memories/{dog['id']}", headers=auth).json()["version"]
    (walk,) = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                            "Alice walks the golden retriever in the park every morning.")
    got = client.get(f"/v1/memories/{dog['id']}", headers=auth).json()
    assert got["version"] == v_before + 1
    assert "golden retriever" in got["tags"]
    last = client.get(f"/v1/memories/{dog['id']}/history", headers=auth).json()["versions"][-1]
    assert last["actor"] == "system:linking"
    assert walk["id"] in last["reason"]
    assert last["provenance"] == dog["provenance"]  # who wrote the note (and its trust) is unchanged
    assert last["content"] == dog["content"]


def test_graph_and_isolation(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder, make_tenant: Any,
) -> None:
    made = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                         "Alice lives in Paris.", "Alice works at Acme Corp.", "Alice loves green tea.",
                         "The quarterly tax report is due in April.", "Tax forms need the accountant's stamp.")
    r = client.get(f"/v1/cubes/{cube_id}/graph", headers=auth)
    assert r.status_code == 200, r.text
    graph = r.json()
    assert {n["id"] for n in graph["nodes"]} == {m["id"] for m in made}
    assert graph["edges"]
    assert not graph["truncated"]
    assert sorted(mid for c in graph["communities"] for mid in c) == sorted(m["id"] for m in made)
    community = {n["id"]: n["community"] for n in graph["nodes"]}
    alice = [m["id"] for m in made[:3]]
    assert len({community[i] for i in alice}) == 1  # Alice's notes are one community
    assert community[made[3]["id"]] != community[alice[0]]
    small = client.get(f"/v1/cubes/{cube_id}/graph", params={"limit": 2}, headers=auth).json()
    assert len(small["nodes"]) == 2
    assert small["truncated"]

    _, other = make_tenant("intruder")
    assert client.get(f"/v1/cubes/{cube_id}/graph", headers=other).status_code == 404
    r = client.get(f"/v1/memories/{made[0]['id']}/links", headers=other)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_relink_sweep_picks_memories_whose_neighbours_changed(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    paris, acme = _add_and_link(client, cube_id, auth, sessions, settings, embedder,
                                "Alice lives in Paris.", "Alice works at Acme Corp.")
    with sessions() as s:
        set_tenant(s, SYSTEM)
        assert relink_stale(s, limit=10) == 0
        s.rollback()
    r = client.patch(f"/v1/memories/{acme['id']}", json={"content": "Alice works at Globex."}, headers=auth)
    assert r.status_code == 200
    with sessions() as s:
        set_tenant(s, SYSTEM)
        assert relink_stale(s, limit=10) >= 1  # paris links to acme, which changed
        s.commit()
    with sessions() as s:
        set_tenant(s, SYSTEM)
        assert relink_stale(s, limit=10) == 0  # done: nothing stale any more
        s.rollback()
    assert uuid.UUID(paris["id"])


def test_linking_after_consolidation_ranks_the_neighbours_the_pass_found(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    from memcube.repository.memories import get_memories
    from memos.linking.service import _nearest_from_hints, _nearest_in_cube
    from tests.consolidation.helpers import get_job, post

    first = post(client, cube_id, auth, ("Alice", "I live in Paris."), ("Alice", "I work at Acme."),
                 ("Bob", "I play jazz piano."))
    run(sessions, first["job_id"], settings, embedder)
    second = post(client, cube_id, auth, ("Alice", "I moved to Berlin last month."),
                  ("Bob", "I play jazz guitar too."))
    job = run(sessions, second["job_id"], settings, embedder)
    link_job = get_job(sessions, job.result["linking_job_id"])
    hints = {uuid.UUID(m): [(uuid.UUID(n), sim) for n, sim in near]
             for m, near in link_job.payload["neighbours"].items()}
    assert set(hints) == {uuid.UUID(m) for m in link_job.payload["memory_ids"]}  # the pass's neighbours travel
    with sessions() as s:
        set_tenant(s, SYSTEM)
        heads = get_memories(s, list(hints))
        from_hints, in_cube = _nearest_from_hints(s, heads, hints), _nearest_in_cube(s, heads)
        for m in heads:  # a small cube: the pass saw every memory, so both rankings agree
            assert [n.id for n, _ in from_hints[m.id]] == [n.id for n, _ in in_cube[m.id]]
            assert [round(x, 3) for _, x in from_hints[m.id]] == [round(x, 3) for _, x in in_cube[m.id]]
        s.rollback()
    done = run(sessions, link_job.id, settings, embedder)
    assert done.result["links"] > 0
    assert set(done.result["timings_ms"]) == {"neighbours", "write"}
    by_content = {m["content"]: m for m in client.get(f"/v1/cubes/{cube_id}/memories",
                                                      headers=auth).json()["memories"]}
    guitar, piano = by_content["Bob plays jazz guitar too."], by_content["Bob plays jazz piano."]
    links = client.get(f"/v1/memories/{guitar['id']}/links", headers=auth).json()["links"]
    assert any(lk["other_id"] == piano["id"] and lk["direction"] == "out" for lk in links)
