"""``memos_lexical_matches`` reads memories with its owner's rights (so the full-text index works under
row-level security); it must still return only cubes the calling tenant may read."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant

Auth = dict[str, str]
SQL = text(
    """
    SELECT memory_id, score FROM memos_lexical_matches(
        CAST(:cubes AS uuid[]), to_tsquery('english', 'pottery | glaze'), tsvector_to_array(to_tsvector(
        'english', 'pottery glaze')), ARRAY[1.0, 2.0]::double precision[], ARRAY['active'], 5.0, 1.2, 0.4, NULL)
    """
)


def add(client: TestClient, cube: str, auth: Auth, contents: list[str]) -> set[str]:
    r = client.post(f"/v1/cubes/{cube}/memories", json={"memories": [{"content": c} for c in contents]},
                    headers=auth)
    assert r.status_code == 201, r.text
    return {m["id"] for m in r.json()["memories"]}


def matches(sessions: sessionmaker[Session], tenant: uuid.UUID | str | None, cubes: list[str]) -> set[str]:
    with sessions() as session:
        set_tenant(session, tenant)
        rows = session.execute(SQL, {"cubes": cubes}).all()
        session.rollback()
    assert all(score > 0 for _, score in rows)
    return {str(r[0]) for r in rows}


@pytest.fixture
def two_cubes(client: TestClient, make_tenant: Any) -> dict[str, Any]:
    a_id, a_auth = make_tenant("alpha")
    b_id, b_auth = make_tenant("bravo")
    a_cube = client.post("/v1/cubes", json={"name": "a"}, headers=a_auth).json()["id"]
    b_cube = client.post("/v1/cubes", json={"name": "b"}, headers=b_auth).json()["id"]
    a_ids = add(client, a_cube, a_auth, ["Alpha's pottery class glaze recipe", "pottery wheel for sale", "tea"])
    b_ids = add(client, b_cube, b_auth, ["Bravo likes pottery too"])
    return {"a": (a_id, a_auth, a_cube, a_ids), "b": (b_id, b_auth, b_cube, b_ids)}


def test_foreign_cube_yields_nothing(sessions: sessionmaker[Session], two_cubes: dict[str, Any]) -> None:
    a_id, _, a_cube, a_ids = two_cubes["a"]
    b_id, _, b_cube, b_ids = two_cubes["b"]
    assert len(a_ids) == 3
    own = matches(sessions, a_id, [a_cube])
    assert len(own) == 2
    assert own <= a_ids
    # Bravo passing Alpha's cube id gets nothing; passing both gets only its own.
    assert matches(sessions, b_id, [a_cube]) == set()
    assert matches(sessions, b_id, [a_cube, b_cube]) == b_ids
    # No tenant context and an unknown tenant: nothing at all.
    assert matches(sessions, None, [a_cube, b_cube]) == set()
    assert matches(sessions, uuid.uuid4(), [a_cube, b_cube]) == set()
    # The system context (relays, sweeps) reads every cube.
    assert len(matches(sessions, SYSTEM, [a_cube, b_cube])) == 3


def test_granted_tenant_gets_results(
    client: TestClient, sessions: sessionmaker[Session], two_cubes: dict[str, Any]
) -> None:
    a_id, a_auth, a_cube, a_ids = two_cubes["a"]
    b_id, b_auth, b_cube, _ = two_cubes["b"]
    assert matches(sessions, b_id, [a_cube]) == set()
    r = client.post(f"/v1/cubes/{a_cube}/grants", json={"tenant_id": str(b_id), "access": "read"}, headers=a_auth)
    assert r.status_code in (200, 201), r.text
    got = matches(sessions, b_id, [a_cube])
    assert len(got) == 2
    assert got <= a_ids
    # And through the API, hybrid and lexical search of the granted cube find the lexical match.
    for mode in ("hybrid", "lexical"):
        r = client.post(f"/v1/cubes/{a_cube}/search", json={"query": "glaze", "mode": mode}, headers=b_auth)
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["memory"]["content"] == "Alpha's pottery class glaze recipe"
    # Alpha still cannot read Bravo's cube (grants are one-way).
    assert matches(sessions, a_id, [b_cube]) == set()


def test_function_is_security_definer_with_fixed_search_path(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        row = session.execute(text(
            "SELECT prosecdef, proconfig, proleakproof FROM pg_proc WHERE proname = 'memos_lexical_matches'"
        )).one()
        leaky = session.execute(text(
            "SELECT count(*) FROM pg_proc WHERE proname IN ('ts_match_vq', 'ts_match_qv') AND proleakproof"
        )).scalar_one()
    assert row[0] is True
    assert row[1] == ["search_path=public"]
    assert row[2] is False
    assert leaky == 0  # the built-ins keep their LEAKPROOF status


def test_memories_leave_room_for_hot_updates(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        options = session.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'memories'")).scalar_one()
    assert "fillfactor=80" in options
