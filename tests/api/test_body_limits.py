"""The byte cap on request bodies (MEMOS_MAX_BODY_BYTES): checked on Content-Length before anything is read,
and counted while a body without one streams in; either way a 413 in the error envelope, before parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memos.config import Settings
from tests.api.helpers import list_all
from tests.conftest import ADMIN_KEY

Auth = dict[str, str]
CAP = 64 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, admin_key=ADMIN_KEY, max_body_bytes=CAP)


def _padded(body: bytes, size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes: ``body`` padded with whitespace."""
    return body + b" " * (size - len(body))


def _assert_413(r: object) -> None:
    assert r.status_code == 413, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"] == "payload_too_large"
    assert str(CAP) in body["detail"]
    assert "MEMOS_MAX_BODY_BYTES" in body["detail"]


def test_a_body_at_the_cap_is_accepted_and_one_byte_more_is_413(client: TestClient, auth: Auth, cube_id: str) -> None:
    body = json.dumps({"memories": [{"content": "padded"}]}).encode()
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=_padded(body, CAP), headers={**auth, **JSON})
    assert r.status_code == 201, r.text
    _assert_413(client.post(f"/v1/cubes/{cube_id}/memories", content=_padded(body, CAP + 1),
                            headers={**auth, **JSON}))
    assert [m["content"] for m in list_all(client, cube_id, auth)] == ["padded"]


def test_a_streamed_body_without_content_length_is_counted(client: TestClient, auth: Auth, cube_id: str) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"memories": [{"content": "streamed"}]'
        sent = 39
        while sent < total - 1:
            piece = min(4096, total - 1 - sent)
            yield b" " * piece
            sent += piece
        yield b"}"

    r = client.post(f"/v1/cubes/{cube_id}/memories", content=chunks(CAP * 3), headers={**auth, **JSON})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    _assert_413(r)
    r = client.post(f"/v1/cubes/{cube_id}/memories", content=chunks(CAP // 2), headers={**auth, **JSON})
    assert r.status_code == 201, r.text


def test_the_cap_holds_on_every_route_and_before_authentication(client: TestClient, auth: Auth, cube_id: str) -> None:
    big = _padded(b'{"query": "x"}', CAP + 10)
    _assert_413(client.post(f"/v1/cubes/{cube_id}/search", content=big, headers={**auth, **JSON}))
    _assert_413(client.post("/v1/cubes", content=big, headers=JSON))  # no key: the body is refused first
    _assert_413(client.post(f"/v1/cubes/{cube_id}/messages", content=big, headers={**auth, **JSON}))


def test_the_default_cap_refuses_a_20_mb_whitespace_body(tmp_path: Path, app_state: object) -> None:
    from api.app import create_app

    assert Settings(home=tmp_path).max_body_bytes == 8 * 1024 * 1024
    app_state.settings = Settings(home=tmp_path, admin_key=ADMIN_KEY)  # type: ignore[attr-defined]
    with TestClient(create_app(app_state), raise_server_exceptions=False) as client:  # type: ignore[arg-type]
        r = client.post("/v1/cubes", content=_padded(b'{"name": "x"}', 20_000_000), headers=JSON)
        assert r.status_code == 413, r.text
        assert "8388608" in r.json()["detail"]
