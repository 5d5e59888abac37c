"""Versioning: update, history, point-in-time reads, tombstones, rollback, optimistic concurrency."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import add, add_one, list_all, search


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def between(a: str, b: str) -> str:
    """An ISO time halfway between two version boundaries."""
    start, end = ts(a), ts(b)
    return (start + (end - start) / 2).isoformat()


def history(client: TestClient, memory_id: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get(f"/v1/memories/{memory_id}/history", headers=auth)
    assert r.status_code == 200, r.text
    versions: list[dict[str, Any]] = r.json()["versions"]
    return versions


def test_patch_makes_a_new_version_with_reason_and_new_embedding(
    client: TestClient, auth: dict[str, str], cube_id: str
) -> None:
    mem = add_one(client, cube_id, auth, "The cat sleeps on the red sofa", metadata={"room": "living"},
                  tags=["pets"])
    add(client, cube_id, auth, "Quarterly revenue grew twelve percent", "The train to Berlin leaves at nine")

    r = client.patch(
        f"/v1/memories/{mem['id']}",
        json={"content": "Paris is the capital of France", "metadata": {"topic": "geo"}, "tags": ["geo", "facts"],
              "reason": "user corrected it"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["version"] == 2
    assert updated["content"] == "Paris is the capital of France"
    assert updated["metadata"] == {"topic": "geo"}
    assert updated["tags"] == ["geo", "facts"]
    assert updated["id"] == mem["id"]
    assert updated["created_at"] == mem["created_at"]

    # The head read agrees with the PATCH answer.
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"]) == ("Paris is the capital of France", 2)

    versions = history(client, mem["id"], auth)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["content"] == "The cat sleeps on the red sofa"
    assert versions[0]["metadata"] == {"room": "living"}
    assert versions[1]["reason"] == "user corrected it"
    assert versions[1]["actor"]

    # The embedding follows the content: the new text is found, the old one no longer is.
    hits = search(client, cube_id, auth, "What is the capital of France?", mode="dense", top_k=1)
    assert hits[0]["memory"]["id"] == mem["id"]
    assert hits[0]["memory"]["content"] == "Paris is the capital of France"
    dense_old = search(client, cube_id, auth, "cat sleeping on a sofa", mode="dense", top_k=3)
    assert all(h["memory"]["content"] != "The cat sleeps on the red sofa" for h in dense_old)
    assert search(client, cube_id, auth, "sofa", mode="lexical") == []
    assert [h["memory"]["id"] for h in search(client, cube_id, auth, "Paris", mode="lexical")] == [mem["id"]]


def test_history_is_chained_and_as_of_reads_the_past(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "v1 text")
    for i in (2, 3):
        r = client.patch(f"/v1/memories/{mem['id']}", json={"content": f"v{i} text"}, headers=auth)
        assert r.status_code == 200, r.text

    versions = history(client, mem["id"], auth)
    assert [v["version"] for v in versions] == [1, 2, 3]  # oldest first
    for older, newer in zip(versions, versions[1:], strict=False):
        assert older["valid_to"] == newer["valid_from"]
        assert ts(older["valid_from"]) < ts(newer["valid_from"])
    assert versions[-1]["valid_to"] is None

    for i, (older, newer) in enumerate(zip(versions, versions[1:], strict=False), start=1):
        r = client.get(f"/v1/memories/{mem['id']}", params={"as_of": between(older["valid_from"],
                                                                               newer["valid_from"])}, headers=auth)
        assert r.status_code == 200, r.text
        assert (r.json()["content"], r.json()["version"]) == (f"v{i} text", i)

    # Exactly at a boundary the newer version holds (valid_from inclusive, valid_to exclusive).
    r = client.get(f"/v1/memories/{mem['id']}", params={"as_of": versions[1]["valid_from"]}, headers=auth)
    assert r.json()["version"] == 2
    later = (ts(versions[-1]["valid_from"]) + timedelta(days=1)).isoformat()
    assert client.get(f"/v1/memories/{mem['id']}", params={"as_of": later}, headers=auth).json()["version"] == 3

    before = (ts(versions[0]["valid_from"]) - timedelta(seconds=1)).isoformat()
    r = client.get(f"/v1/memories/{mem['id']}", params={"as_of": before}, headers=auth)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-45", "2024-01-01T25:00:00", "", "1e10x"])
def test_malformed_as_of_is_422(client: TestClient, auth: dict[str, str], cube_id: str, bad: str) -> None:
    mem = add_one(client, cube_id, auth, "something")
    r = client.get(f"/v1/memories/{mem['id']}", params={"as_of": bad}, headers=auth)
    assert r.status_code == 422, r.text


def test_delete_writes_a_tombstone(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "The lighthouse keeper feeds the gulls")
    other = add_one(client, cube_id, auth, "Gulls circle the harbour at dawn")

    r = client.delete(f"/v1/memories/{mem['id']}", headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("deleted", 2)

    # Still readable by id (as a tombstone), with the tombstone in its history.
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["status"], got["version"]) == ("deleted", 2)
    versions = history(client, mem["id"], auth)
    assert [(v["version"], v["status"]) for v in versions] == [(1, "active"), (2, "deleted")]
    assert versions[1]["content"] == "The lighthouse keeper feeds the gulls"

    for mode in ("hybrid", "dense", "lexical"):
        ids = [h["memory"]["id"] for h in search(client, cube_id, auth, "lighthouse keeper gulls", mode=mode)]
        assert mem["id"] not in ids
        assert other["id"] in ids
    # Asking for deleted memories explicitly still never returns them.
    ids = [h["memory"]["id"] for h in search(client, cube_id, auth, "lighthouse", filters={"status": ["deleted"]})]
    assert mem["id"] not in ids

    assert [m["id"] for m in list_all(client, cube_id, auth)] == [other["id"]]
    assert [m["id"] for m in list_all(client, cube_id, auth, status="deleted")] == [mem["id"]]

    # Deleting twice is idempotent: same answer, no second tombstone.
    r = client.delete(f"/v1/memories/{mem['id']}", headers=auth)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["version"]) == ("deleted", 2)
    assert len(history(client, mem["id"], auth)) == 2

    r = client.patch(f"/v1/memories/{mem['id']}", json={"content": "revived"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"
    assert len(history(client, mem["id"], auth)) == 2


def test_rollback_restores_content_and_status(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "Original wording about the orchard", tags=["orchard"])
    client.patch(f"/v1/memories/{mem['id']}", json={"content": "Edited wording", "tags": ["edit"]}, headers=auth)
    client.delete(f"/v1/memories/{mem['id']}", headers=auth)

    r = client.post(f"/v1/memories/{mem['id']}/rollback", json={"version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 4
    assert body["status"] == "active"
    assert body["content"] == "Original wording about the orchard"
    assert body["tags"] == ["orchard"]

    versions = history(client, mem["id"], auth)
    assert [(v["version"], v["status"]) for v in versions] == [
        (1, "active"), (2, "active"), (3, "deleted"), (4, "active")
    ]
    assert "rollback" in (versions[3]["reason"] or "")
    assert versions[2]["valid_to"] == versions[3]["valid_from"]

    # Live again: listed and found, with the old content's embedding.
    assert [m["id"] for m in list_all(client, cube_id, auth)] == [mem["id"]]
    hits = search(client, cube_id, auth, "orchard", mode="lexical")
    assert [h["memory"]["id"] for h in hits] == [mem["id"]]


def test_rollback_to_a_missing_version_is_404(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "only one version")
    r = client.post(f"/v1/memories/{mem['id']}/rollback", json={"version": 7}, headers=auth)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert len(history(client, mem["id"], auth)) == 1


def test_expected_version_mismatch_is_409(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "counter is 1")
    r = client.patch(f"/v1/memories/{mem['id']}", json={"content": "counter is 2", "expected_version": 1},
                     headers=auth)
    assert r.status_code == 200, r.text
    r = client.patch(f"/v1/memories/{mem['id']}", json={"content": "counter is 3", "expected_version": 1},
                     headers=auth)
    assert r.status_code == 409
    assert "expected" in r.json()["detail"]
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"]) == ("counter is 2", 2)


def test_empty_patch_is_422_and_writes_nothing(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "unchanged")
    r = client.patch(f"/v1/memories/{mem['id']}", json={}, headers=auth)
    assert r.status_code == 422
    assert len(history(client, mem["id"], auth)) == 1


def test_metadata_only_patch_keeps_content(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "keep me", metadata={"a": 1})
    r = client.patch(f"/v1/memories/{mem['id']}", json={"metadata": {"a": 2}}, headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["content"], r.json()["metadata"], r.json()["version"]) == ("keep me", {"a": 2}, 2)
    assert history(client, mem["id"], auth)[1]["reason"] == "updated"
