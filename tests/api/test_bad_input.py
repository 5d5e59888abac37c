"""Bad input gets a clear 4xx (FastAPI's 422 shape for validation) and never a 500 or a half write.

The ``settings`` fixture sets small limits: 50 items a batch, 2,000 characters of content, 100 a page.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import add_one, list_all

Auth = dict[str, str]


def assert_fastapi_422(r: Any) -> None:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list)
    assert detail
    assert {"loc", "msg", "type"} <= set(detail[0])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"memories": "not a list"},
        {"memories": [{}]},
        {"memories": [{"content": 42}]},
        {"memories": [{"content": "x", "kind": "poem"}]},
        {"memories": [{"content": "x", "tags": "one"}]},
        {"memories": [{"content": "x", "metadata": [1, 2]}]},
        {"memories": [{"content": "x", "event_time": "not a time"}]},
        {"memories": [{"content": "x", "provenance": {"trust": 7}}]},
        {"memories": [{"content": "x", "surprise": True}]},
        {"memories": [{"content": ""}]},
        {"memories": []},
    ],
)
def test_validation_errors_have_fastapis_shape(client: TestClient, auth: Auth, cube_id: str,
                                               body: dict[str, Any]) -> None:
    assert_fastapi_422(client.post(f"/v1/cubes/{cube_id}/memories", json=body, headers=auth))
    assert list_all(client, cube_id, auth) == []


def test_non_json_and_wrong_types_elsewhere(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=b"{not json", headers={
        **auth, "Content-Type": "application/json"})
    assert_fastapi_422(r)
    assert_fastapi_422(client.post("/v1/cubes", json={"name": ["x"]}, headers=auth))
    assert_fastapi_422(client.post("/v1/cubes", json={}, headers=auth))
    assert_fastapi_422(client.post(f"/v1/cubes/{cube_id}/search", json={"query": ""}, headers=auth))
    assert_fastapi_422(client.get("/v1/memories/not-a-uuid", headers=auth))
    assert_fastapi_422(client.get(f"/v1/cubes/{cube_id}/memories", params={"status": "zombie"}, headers=auth))
    mem = add_one(client, cube_id, auth, "x")
    assert_fastapi_422(client.post(f"/v1/memories/{mem['id']}/rollback", json={"version": "one"}, headers=auth))
    assert_fastapi_422(client.post(f"/v1/memories/{mem['id']}/rollback", json={"version": 0}, headers=auth))
    assert_fastapi_422(client.patch(f"/v1/memories/{mem['id']}", json={"content": 5}, headers=auth))


def test_oversized_content_is_413_and_writes_nothing(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "x" * 2001}]}, headers=auth)
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert "2001" in r.json()["detail"]
    assert "2000" in r.json()["detail"]

    # One oversized item in a batch: none of the batch is written.
    batch = [{"content": f"fine {i}"} for i in range(5)] + [{"content": "y" * 5000}]
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": batch}, headers=auth)
    assert r.status_code == 413
    assert list_all(client, cube_id, auth) == []
    assert list_all(client, cube_id, auth, status="deleted") == []

    # Exactly at the limit is fine.
    assert add_one(client, cube_id, auth, "z" * 2000)["content"] == "z" * 2000


def test_oversized_patch_is_413_and_keeps_the_old_version(client: TestClient, auth: Auth, cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "short")
    r = client.patch(f"/v1/memories/{mem['id']}", json={"content": "x" * 2001}, headers=auth)
    assert r.status_code == 413
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"]) == ("short", 1)


def test_batch_over_the_limit_is_413(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories",
                    json={"memories": [{"content": f"m{i}"} for i in range(51)]}, headers=auth)
    assert r.status_code == 413
    assert "51" in r.json()["detail"]
    assert list_all(client, cube_id, auth) == []


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"limit": -1}, {"limit": "ten"},
                                    {"cursor": "not-a-cursor"}, {"cursor": "bm9wZQ=="}, {"cursor": "%%%"}])
def test_bad_paging_is_422(client: TestClient, auth: Auth, cube_id: str, params: dict[str, Any]) -> None:
    r = client.get(f"/v1/cubes/{cube_id}/memories", params=params, headers=auth)
    assert r.status_code == 422, r.text


def test_unknown_ids_are_404(client: TestClient, auth: Auth, cube_id: str) -> None:
    missing = uuid.uuid4()
    for method, path, body in [
        ("GET", f"/v1/cubes/{missing}", None),
        ("GET", f"/v1/cubes/{missing}/memories", None),
        ("POST", f"/v1/cubes/{missing}/memories", {"memories": [{"content": "x"}]}),
        ("POST", f"/v1/cubes/{missing}/search", {"query": "x"}),
        ("GET", f"/v1/memories/{missing}", None),
        ("GET", f"/v1/memories/{missing}/history", None),
        ("PATCH", f"/v1/memories/{missing}", {"content": "x"}),
        ("DELETE", f"/v1/memories/{missing}", None),
        ("POST", f"/v1/memories/{missing}/rollback", {"version": 1}),
        ("DELETE", f"/v1/cubes/{cube_id}/grants/{missing}", None),
    ]:
        r = client.request(method, path, json=body, headers=auth)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "item",
    [
        {"content": "nul \x00 inside"},
        {"content": "ok", "metadata": {"k": "v\x00"}},
        {"content": "ok", "metadata": {"k\x00": 1}},
        {"content": "ok", "tags": ["t\x00"]},
        {"content": "ok", "session_id": "s\x00"},
        {"content": "ok", "role": "r\x00"},
        {"content": "ok", "provenance": {"actor": "a\x00", "note": "n\x00"}},
    ],
)
def test_nul_characters_are_422(client: TestClient, auth: Auth, cube_id: str, item: dict[str, Any]) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [item]}, headers=auth)
    assert_fastapi_422(r)
    assert "NUL" in r.json()["detail"][0]["msg"]
    assert list_all(client, cube_id, auth) == []


def test_nul_characters_elsewhere_are_422(client: TestClient, auth: Auth, cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "clean")
    for method, path, body in [
        ("POST", "/v1/cubes", {"name": "bad\x00name"}),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "q\x00"}),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "q", "filters": {"tags": ["\x00"]}}),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "q", "filters": {"metadata": {"a": "\x00"}}}),
        ("POST", f"/v1/cubes/{cube_id}/messages", {"messages": [{"role": "u\x00", "content": "hi"}]}),
        ("POST", f"/v1/cubes/{cube_id}/messages", {"messages": [{"role": "user", "content": "h\x00i"}]}),
        ("PATCH", f"/v1/memories/{mem['id']}", {"content": "x\x00"}),
        ("PATCH", f"/v1/memories/{mem['id']}", {"metadata": {"x": "\x00"}}),
        ("PATCH", f"/v1/memories/{mem['id']}", {"tags": ["\x00"]}),
        ("PATCH", f"/v1/memories/{mem['id']}", {"content": "y", "reason": "\x00"}),
    ]:
        r = client.request(method, path, json=body, headers=auth)
        assert_fastapi_422(r)
    assert_fastapi_422(client.get(f"/v1/cubes/{cube_id}/memories", params={"tag": "a\x00"}, headers=auth))
    r = client.get(f"/v1/cubes/{cube_id}/memories", params={"cursor": "\x00"}, headers=auth)
    assert r.status_code == 422
    assert_fastapi_422(client.delete(f"/v1/memories/{mem['id']}", params={"reason": "\x00"}, headers=auth))
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"]) == ("clean", 1)
    assert [c["id"] for c in client.get("/v1/cubes", headers=auth).json()["cubes"]] == [cube_id]


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": [1, -Infinity]}'])
def test_nan_in_metadata_is_422(client: TestClient, auth: Auth, cube_id: str, raw: bytes) -> None:
    body = b'{"memories": [{"content": "x", "metadata": ' + raw + b"}]}"
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=body,
                    headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert list_all(client, cube_id, auth) == []
    search = b'{"query": "x", "filters": {"metadata": ' + raw + b"}}"
    r = client.post(f"/v1/cubes/{cube_id}/search", content=search,
                    headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("raw", [b'{"query": "x", "top_k": NaN}', b'{"query": NaN}',
                                 b'{"query": "x", "filters": {"time_from": Infinity}}'])
def test_nan_where_a_field_is_typed_is_a_clean_422(client: TestClient, auth: Auth, cube_id: str,
                                                   raw: bytes) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/search", content=raw, headers={**auth, "Content-Type": "application/json"})
    assert_fastapi_422(r)
    body = b'{"memories": [{"content": "x", "provenance": {"trust": NaN}}]}'
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=body,
                    headers={**auth, "Content-Type": "application/json"})
    assert_fastapi_422(r)


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-14:00",
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
        "1970-01-01T00:00:00Z",
        "2024-02-29T12:00:00.123456+05:45",
    ],
)
def test_odd_datetimes_are_stored_or_refused_never_500(client: TestClient, auth: Auth, cube_id: str,
                                                        when: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "t", "event_time": when}]},
                    headers=auth)
    assert r.status_code in (201, 422), r.text
    stored = list_all(client, cube_id, auth)
    if r.status_code == 201:
        mem = r.json()["memories"][0]
        assert [m["id"] for m in stored] == [mem["id"]]
        got = client.get(f"/v1/memories/{mem['id']}", headers=auth)
        assert got.status_code == 200
        assert got.json()["event_time"] is not None
    else:
        assert stored == []

    mem = add_one(client, cube_id, auth, "probe")
    for method, path, body, params in [
        ("GET", f"/v1/memories/{mem['id']}", None, {"as_of": when}),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "t", "filters": {"time_from": when}}, None),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "t", "filters": {"time_to": when}}, None),
        ("PATCH", f"/v1/memories/{mem['id']}", {"event_time": when}, None),
        ("POST", f"/v1/cubes/{cube_id}/messages", {"messages": [{"role": "user", "content": "m",
                                                                  "timestamp": when}]}, None),
    ]:
        r = client.request(method, path, json=body, params=params, headers=auth)
        assert r.status_code < 500, (method, path, r.text)


def test_duplicate_cube_name_is_409(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post("/v1/cubes", json={"name": "notes"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"
    assert len(client.get("/v1/cubes", headers=auth).json()["cubes"]) == 1


@pytest.mark.parametrize("top_k", [0, -3, 101, 10**9, "many"])
def test_top_k_out_of_range_is_422(client: TestClient, auth: Auth, cube_id: str, top_k: Any) -> None:
    assert_fastapi_422(client.post(f"/v1/cubes/{cube_id}/search", json={"query": "x", "top_k": top_k},
                                   headers=auth))


def test_oversized_search_query_and_messages(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/messages",
                    json={"messages": [{"role": "user", "content": "x" * 2001}]}, headers=auth)
    assert r.status_code == 413
    r = client.post(f"/v1/cubes/{cube_id}/messages",
                    json={"messages": [{"role": "user", "content": "x"}] * 51}, headers=auth)
    assert r.status_code == 413
    assert list_all(client, cube_id, auth) == []
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "x" * 10_001}, headers=auth)
    assert r.status_code in (413, 422)


@pytest.mark.parametrize("depth", [65, 500, 990, 5000])
def test_deeply_nested_json_is_refused(client: TestClient, auth: Auth, cube_id: str, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    headers = {**auth, "Content-Type": "application/json"}
    for path, body in [
        (f"/v1/cubes/{cube_id}/memories", '{"memories": [{"content": "x", "metadata": {"a": ' + nested + "}}]}"),
        (f"/v1/cubes/{cube_id}/search", '{"query": "x", "filters": {"metadata": {"a": ' + nested + "}}}"),
    ]:
        r = client.post(path, content=body, headers=headers)
        assert 400 <= r.status_code < 500, (path, r.text[:300])
    assert list_all(client, cube_id, auth) == []


def test_moderately_nested_metadata_is_stored(client: TestClient, auth: Auth, cube_id: str) -> None:
    metadata: dict[str, Any] = {"leaf": 1.5}
    for i in range(30):
        metadata = {f"l{i}": [metadata]}
    mem = add_one(client, cube_id, auth, "nested", metadata=metadata)
    assert client.get(f"/v1/memories/{mem['id']}", headers=auth).json()["metadata"] == metadata


def test_a_cube_deleted_while_memories_are_added_is_a_409_not_a_500(
    client: TestClient, auth: Auth, cube_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request found the cube, then another request deleted it before the insert (simulated here in the
    same transaction, at the moment the race would hit): a clear conflict, and nothing is stored."""
    from sqlalchemy import text

    from memcube.repository import memories as repo

    original = repo.insert_memories

    def insert_after_the_cube_is_gone(session: Any, rows: list[dict[str, Any]]) -> Any:
        session.execute(text("DELETE FROM cubes WHERE id = :id"), {"id": cube_id})
        return original(session, rows)

    monkeypatch.setattr(repo, "insert_memories", insert_after_the_cube_is_gone)
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "too late"}]}, headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "conflict"
    assert "deleted" in r.json()["detail"]
    monkeypatch.undo()
    assert client.get(f"/v1/cubes/{cube_id}", headers=auth).status_code == 200  # the request rolled back
    assert client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"] == []
