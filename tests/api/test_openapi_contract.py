"""The OpenAPI document says what the service sends: one error envelope, every error status declared, 405s
with the path's methods in ``Allow``, limits as the settings' defaults; and /metrics labels each request with
its route template."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from api.app import create_app
from memcube.schemas import ErrorBody, ValidationErrorBody
from memos.config import Settings

Auth = dict[str, str]
METHODS = ("get", "put", "post", "delete", "patch")
OPENAPI = create_app().openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in OPENAPI["paths"].items() for method, op in item.items()
            if method in METHODS]


def _ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


def test_every_operation_declares_the_errors_it_can_send() -> None:
    assert "HTTPValidationError" not in OPENAPI["components"]["schemas"]
    assert "HTTPValidationError" not in str(OPENAPI)
    for path, method, op in _operations():
        responses = op["responses"]
        if op.get("parameters") or "requestBody" in op:
            assert _ref(responses["422"]) == "ValidationErrorBody", (method, path)
        if "requestBody" in op:
            assert _ref(responses["400"]) == _ref(responses["413"]) == "ErrorBody", (method, path)
        if path.startswith("/v1/"):
            assert "401" in responses, (method, path)
            assert "503" in responses, (method, path)


def test_limits_in_the_schema_are_the_settings_defaults() -> None:
    schemas = OPENAPI["components"]["schemas"]
    defaults = Settings()
    assert schemas["MemoryCreate"]["properties"]["content"]["maxLength"] == defaults.max_content_chars
    assert schemas["Message"]["properties"]["content"]["maxLength"] == defaults.max_content_chars
    assert schemas["MemoriesCreate"]["properties"]["memories"]["maxItems"] == defaults.max_batch_size
    assert schemas["MessagesCreate"]["properties"]["messages"]["maxItems"] == defaults.max_batch_size
    (limit,) = [p for p in OPENAPI["paths"]["/v1/cubes/{cube_id}/memories"]["get"]["parameters"]
                if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == defaults.max_page_size
    (graph_limit,) = [p for p in OPENAPI["paths"]["/v1/cubes/{cube_id}/graph"]["get"]["parameters"]
                      if p["name"] == "limit"]
    assert graph_limit["schema"]["maximum"] == 500


def test_options_is_a_405_whose_allow_lists_the_paths_methods(client: TestClient, auth: Auth) -> None:
    for path, item in OPENAPI["paths"].items():
        documented = {m.upper() for m in item if m in METHODS}
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        r = client.options(concrete, headers=auth)
        assert r.status_code == 405, (path, r.text)
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == documented, path
        ErrorBody.model_validate(r.json())
        assert r.json()["error"] == "method_not_allowed"


def test_error_bodies_have_the_documented_shapes(client: TestClient, auth: Auth, cube_id: str) -> None:
    validation = client.post(f"/v1/cubes/{cube_id}/search", json={"query": ""}, headers=auth)
    refused = client.get(f"/v1/cubes/{cube_id}/memories", params={"limit": 10_000}, headers=auth)
    for r, error in [(validation, "validation_error"), (refused, "invalid_input")]:
        assert r.status_code == 422, r.text
        assert ValidationErrorBody.model_validate(r.json()).error == error
    assert isinstance(validation.json()["detail"], list)
    assert {"loc", "msg", "type"} <= set(validation.json()["detail"][0])

    not_json = client.post("/v1/cubes", content=b"\xff\xfe{", headers={**auth, "Content-Type": "application/json"})
    missing = client.get(f"/v1/cubes/{uuid.uuid4()}", headers=auth)
    unknown_path = client.get("/v1/no-such-thing", headers=auth)
    no_key = client.get("/v1/cubes")
    for r, status, error in [(not_json, 400, "bad_request"), (missing, 404, "not_found"),
                             (unknown_path, 404, "not_found"), (no_key, 401, "unauthorized")]:
        assert r.status_code == status, r.text
        assert ErrorBody.model_validate(r.json()).error == error


def test_a_database_refusal_is_a_safe_422_and_a_crash_a_500_with_a_request_id(
    client: TestClient, auth: Auth, cube_id: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    from memos.retrieval import service

    secret = "SELECT content FROM memories WHERE tenant_id = 'someone-else'"

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise DataError(secret, {"p": "private"}, Exception(f'invalid input syntax: "{secret}"'))

    monkeypatch.setattr(service, "search", refused)
    with caplog.at_level(logging.WARNING, logger="api.errors"):
        r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "x"}, headers=auth)
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_input"
    assert "SELECT" not in r.text
    assert "private" not in r.text
    request_id = r.headers["x-request-id"]
    assert request_id in r.json()["detail"]
    assert any(request_id in rec.getMessage() and "invalid input syntax" in rec.getMessage()
               for rec in caplog.records)

    def crash(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"internal state: {secret}")

    monkeypatch.setattr(service, "search", crash)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "x"},
                        headers={**auth, "X-Request-ID": "req-42"})
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert "SELECT" not in r.text
    assert r.headers["x-request-id"] == "req-42"
    assert any("req-42" in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_metrics_are_labelled_by_route_template(client: TestClient, auth: Auth, cube_id: str) -> None:
    client.get(f"/v1/cubes/{cube_id}/memories", headers=auth)
    client.post(f"/v1/cubes/{cube_id}/search", json={"query": "tea"}, headers=auth)
    client.get("/v1/no-such-thing", headers=auth)
    text = client.get("/metrics").text
    assert 'route="/v1/cubes/{cube_id}/memories"' in text
    assert 'method="POST",route="/v1/cubes/{cube_id}/search",status="200"' in text
    assert 'memos_http_request_seconds_count{method="POST",route="/v1/cubes/{cube_id}/search"}' in text
    # Only what no route serves is "unmatched": unknown paths, and bodies refused by size before routing.
    unmatched = [line for line in text.splitlines()
                 if line.startswith("memos_http_requests_total{") and 'route="unmatched"' in line]
    assert any('status="404"' in line for line in unmatched)
    assert all(re.search(r'status="(404|413)"', line) for line in unmatched), unmatched
    assert cube_id not in text
