"""Input built to break the parser or the jobs behind it: lone surrogates, duplicate JSON keys, messages at
the edges of the calendar with relative dates in them. Each is a clear 4xx, or is accepted and processed;
never a 500, a dropped connection or a job that fails."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.api.helpers import add_one, list_all
from tests.conftest import ADMIN
from tests.consolidation.helpers import pending_jobs

Auth = dict[str, str]
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59",
                                  "9999-12-31T23:59:59Z", "0001-01-03T00:00:00+00:00"])
def test_messages_at_the_edges_of_the_calendar_with_relative_dates_are_consolidated(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder, when: str,
) -> None:
    turns = [
        {"role": "user", "name": "Ana", "timestamp": when, "content": "I went hiking yesterday, see you next year!"},
        {"role": "user", "name": "Ana", "timestamp": when,
         "content": "Last week I adopted a cat; in 3 days I start a job, and 999 years ago nothing happened."},
        {"role": "user", "name": "Ana", "timestamp": when, "content": "Last year and last month were hard."},
    ]
    r = client.post(f"/v1/cubes/{cube_id}/messages", json={"messages": turns}, headers=auth)
    assert r.status_code == 202, r.text
    status = run_job(sessions, r.json()["job_id"], JobContext(settings=settings, embedder=embedder))
    assert status == "succeeded"
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=auth).json()
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 1, None)
    memories = list_all(client, cube_id, auth)
    assert memories
    assert all(m["event_time"] is not None for m in memories)

    # The same text as memories, and searched for, with that event time.
    r = client.post(f"/v1/cubes/{cube_id}/memories",
                    json={"memories": [{"content": t["content"], "event_time": when} for t in turns]}, headers=auth)
    assert r.status_code == 201, r.text
    # The linking jobs those writes queued (consolidation's and the API's) run on the same memories.
    ctx = JobContext(settings=settings, embedder=embedder)
    linking = pending_jobs(sessions, "linking.link")
    assert linking
    assert [run_job(sessions, job.id, ctx) for job in linking] == ["succeeded"] * len(linking)
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "what happened last year?"}, headers=auth)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"memories": [{"content": "\\ud800"}]}',
        b'{"memories": [{"content": "ok", "metadata": {"\\udfff": 1}}]}',
        b'{"memories": [{"content": "ok", "tags": ["a\\ud83d"]}]}',
        b'{"memories": [{"content": "ok", "role": "\\udc00x"}]}',
    ],
)
def test_lone_surrogates_are_a_422_with_a_message(client: TestClient, auth: Auth, cube_id: str, raw: bytes) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=raw, headers={**auth, **JSON})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert "surrogate" in body["detail"][0]["msg"]
    assert list_all(client, cube_id, auth) == []


def test_lone_surrogates_elsewhere_are_422(client: TestClient, auth: Auth, cube_id: str) -> None:
    mem = add_one(client, cube_id, auth, "clean")
    for method, path, raw in [
        ("POST", "/v1/cubes", b'{"name": "\\ud800"}'),
        ("POST", f"/v1/cubes/{cube_id}/search", b'{"query": "x\\ud800"}'),
        ("POST", f"/v1/cubes/{cube_id}/search", b'{"query": "x", "filters": {"role": "\\ud800"}}'),
        ("POST", f"/v1/cubes/{cube_id}/context", b'{"query": "\\ud800 x"}'),
        ("POST", f"/v1/cubes/{cube_id}/messages", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
        ("PATCH", f"/v1/memories/{mem['id']}", b'{"content": "\\udfff"}'),
        ("POST", "/v1/tenants", b'{"name": "\\ud800"}'),
    ]:
        key = ADMIN if path == "/v1/tenants" else auth
        r = client.request(method, path, content=raw, headers={**key, **JSON})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"] == "validation_error"
    # A well-formed pair is one character, and is stored.
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=b'{"memories": [{"content": "\\ud83d\\ude00 ok"}]}',
                    headers={**auth, **JSON})
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["content"] == "\U0001f600 ok"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"memories": [{"content": "a"}], "memories": []}',
        b'{"memories": [{"content": "a", "content": "b"}]}',
        b'{"memories": [{"content": "a", "metadata": {"k": 1, "k": 2}}]}',
        b'{"memories": [{"content": "a", "metadata": {"x": [{"deep": 1, "deep": 1}]}}]}',
    ],
)
def test_duplicate_json_keys_are_refused(client: TestClient, auth: Auth, cube_id: str, raw: bytes) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=raw, headers={**auth, **JSON})
    assert r.status_code == 422, r.text
    body: dict[str, Any] = r.json()
    assert body["error"] == "validation_error"
    assert body["detail"][0]["type"] == "json_duplicate_key"
    assert "duplicate key" in body["detail"][0]["msg"]
    assert list_all(client, cube_id, auth) == []


def test_duplicate_keys_without_a_content_type_are_refused_too(client: TestClient, auth: Auth) -> None:
    # FastAPI parses a body without Content-Type as JSON as well.
    r = client.post("/v1/cubes", content=b'{"name": "a", "name": "b"}', headers=auth)
    assert r.status_code == 422, r.text
    assert client.get("/v1/cubes", headers=auth).json()["cubes"] == []


def test_same_key_in_sibling_objects_is_fine(client: TestClient, auth: Auth, cube_id: str) -> None:
    raw = b'{"memories": [{"content": "a", "metadata": {"k": 1}}, {"content": "b", "metadata": {"k": 2}}]}'
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=raw, headers={**auth, **JSON})
    assert r.status_code == 201, r.text


def test_body_that_is_not_utf8_is_a_documented_400(client: TestClient, auth: Auth) -> None:
    r = client.post("/v1/cubes", content=b'{"name": "\xff\xfe"}', headers={**auth, **JSON})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_request"
