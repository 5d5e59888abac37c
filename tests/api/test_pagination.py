"""Cursor pagination of a cube's memories, and its filters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import add, add_one, list_all

Auth = dict[str, str]


def test_seven_memories_in_pages_of_three(client: TestClient, auth: Auth, cube_id: str) -> None:
    # Two requests, so order holds across batches as well as within one.
    created = add(client, cube_id, auth, *[f"memory {i}" for i in range(4)])
    created += add(client, cube_id, auth, *[f"memory {i}" for i in range(4, 7)])

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/cubes/{cube_id}/memories", params=params, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([m["content"] for m in body["memories"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "pagination does not terminate"

    assert pages == [
        ["memory 0", "memory 1", "memory 2"], ["memory 3", "memory 4", "memory 5"], ["memory 6"]
    ]
    assert [m["id"] for m in list_all(client, cube_id, auth, limit=3)] == [m["id"] for m in created]


def test_a_full_last_page_has_no_cursor(client: TestClient, auth: Auth, cube_id: str) -> None:
    add(client, cube_id, auth, "a", "b", "c")
    body = client.get(f"/v1/cubes/{cube_id}/memories", params={"limit": 3}, headers=auth).json()
    assert len(body["memories"]) == 3
    assert body["next_cursor"] is None
    empty = client.get(f"/v1/cubes/{cube_id}/memories", params={"limit": 100}, headers=auth).json()
    assert len(empty["memories"]) == 3


def test_filters(client: TestClient, auth: Auth, cube_id: str) -> None:
    tea = add_one(client, cube_id, auth, "likes tea", tags=["drinks", "tea"])
    coffee = add_one(client, cube_id, auth, "likes coffee", tags=["drinks"])
    note = add_one(client, cube_id, auth, "a note about tea", tags=["tea"])
    gone = add_one(client, cube_id, auth, "deleted one", tags=["drinks"])
    assert client.delete(f"/v1/memories/{gone['id']}", headers=auth).status_code == 200

    def ids(**params: str) -> list[str]:
        return [m["id"] for m in list_all(client, cube_id, auth, limit=2, **params)]

    assert ids() == [tea["id"], coffee["id"], note["id"]]
    assert ids(tag="drinks") == [tea["id"], coffee["id"]]
    assert ids(tag="tea") == [tea["id"], note["id"]]
    assert ids(tag="nothing") == []
    assert ids(kind="activation") == []  # only plaintext memories can be written (tests/api/test_kinds.py)
    assert ids(kind="plaintext", tag="tea") == [tea["id"], note["id"]]
    assert ids(status="deleted") == [gone["id"]]
    assert ids(status="deleted", tag="drinks") == [gone["id"]]
    assert ids(status="active") == [tea["id"], coffee["id"], note["id"]]
    assert ids(status="quarantined") == []


def test_pagination_is_per_cube(client: TestClient, auth: Auth, cube_id: str) -> None:
    add(client, cube_id, auth, "in notes")
    other = client.post("/v1/cubes", json={"name": "other"}, headers=auth).json()["id"]
    add(client, other, auth, "in other 1", "in other 2")
    assert [m["content"] for m in list_all(client, cube_id, auth)] == ["in notes"]
    assert [m["content"] for m in list_all(client, other, auth, limit=1)] == ["in other 1", "in other 2"]
