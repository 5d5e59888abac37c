"""Small helpers shared by the API tests (plain functions, so each test reads top to bottom)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def add(client: TestClient, cube_id: str, auth: dict[str, str], *contents: str, **fields: Any) -> list[dict[str, Any]]:
    """Add one memory per content (every memory gets ``fields``); returns the created memories."""
    r = client.post(
        f"/v1/cubes/{cube_id}/memories",
        json={"memories": [{"content": c, **fields} for c in contents]},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    memories: list[dict[str, Any]] = r.json()["memories"]
    return memories


def add_one(client: TestClient, cube_id: str, auth: dict[str, str], content: str, **fields: Any) -> dict[str, Any]:
    return add(client, cube_id, auth, content, **fields)[0]


def search(client: TestClient, cube_id: str, auth: dict[str, str], query: str, **body: Any) -> list[dict[str, Any]]:
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": query, **body}, headers=auth)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def list_all(client: TestClient, cube_id: str, auth: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every memory of a listing, following cursors."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/cubes/{cube_id}/memories", params=query, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["memories"])
        cursor = body["next_cursor"]
        if not cursor:
            return out
