"""Error handlers: every error is ``{"error": <stable code>, "detail": ...}`` with its status.

- ``MemOSError``: its code and message (written for the caller).
- Validation: ``{"error": "validation_error", "detail": [FastAPI's list of {loc, msg, type}]}`` -- FastAPI's
  422 ``detail``, inside the same envelope as every other error.
- Starlette/FastAPI HTTP errors (malformed body 400, unknown path 404, 405 with its ``Allow`` header, body
  over ``MEMOS_MAX_BODY_BYTES`` 413): the status's code, their headers kept.
- Database errors: a safe sentence; PostgreSQL's message (it can quote SQL and values) goes to the log only.
  No pooled connection in time: 503 ``overloaded`` with ``Retry-After``, like admission control's refusals.
- Anything else: a 500 with a request id that is also in the log line carrying the traceback.

``document_errors`` makes the OpenAPI document say the same (see ``api.app``).
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from memcube.schemas import ErrorBody, ValidationErrorBody
from memos.errors import MemOSError
from memos.logs import REQUEST_ID

log = logging.getLogger(__name__)

# Codes of the HTTP errors raised by the framework rather than by a MemOSError.
STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
    503: "unavailable",
}
REQUEST_ID_HEADER = "X-Request-ID"


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the errors a route can return; every route may also answer 422 (validation)
    and 503 (database unavailable, or ``overloaded`` with ``Retry-After``: see ``api.admission``)."""
    out: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in codes}
    out[422] = {"model": ValidationErrorBody, "description": "Validation Error"}
    out[503] = {"model": ErrorBody,
                "description": "The database is unavailable, or the server is overloaded (`overloaded`, with "
                               "`Retry-After`)"}
    return out


def error_json(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _echoable(value: Any) -> bool:
    """Whether a validation error may echo the offending input. Containers are not echoed: they can hold
    NaN (which strict JSON cannot encode) or nest deep enough to exhaust the encoder's recursion; nor is text
    that cannot be encoded as UTF-8 (a lone surrogate)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return value.isascii() or _encodable(value)
    return value is None or isinstance(value, int | bool)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validation_detail(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` list, with only the inputs that are safe to echo back (and only the ``ctx``
    values that are text: pydantic puts exception objects there)."""
    items = []
    for err in errors:
        item = {k: v for k, v in err.items() if k not in ("input", "ctx", "url")}
        if "input" in err and _echoable(err["input"]):
            item["input"] = err["input"]
        if isinstance(err.get("ctx"), dict):
            item["ctx"] = {k: v if _echoable(v) else str(v) for k, v in err["ctx"].items()}
        items.append(item)
    detail: list[dict[str, Any]] = jsonable_encoder(items)
    return detail


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves on ``path``. Starlette's 405 names only the methods of the first route
    whose path matched, and ``GET /v1/cubes`` and ``POST /v1/cubes`` are two routes."""
    index: list[tuple[Any, set[str]]] | None = getattr(app.state, "allow_index", None)
    if index is None:
        index = []
        for template, item in app.openapi().get("paths", {}).items():
            methods = {m.upper() for m in item if m in ("get", "put", "post", "delete", "patch")}
            if "GET" in methods:
                methods.add("HEAD")
            index.append((compile_path(template)[0], methods))
        app.state.allow_index = index
    found: set[str] = set()
    for regex, methods in index:
        if regex.match(path):
            found |= methods
    return sorted(found)


def _request_id(request: Request) -> str:
    if (current := REQUEST_ID.get()) is not None:  # the id api.request_id gave this request
        return current
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if 0 < len(given) <= 64 and given.isascii() and given.isprintable() else uuid.uuid4().hex


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_json(422, "validation_error", validation_detail(exc.errors()))

    @app.exception_handler(MemOSError)
    async def _memos_error(_request: Request, exc: MemOSError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return error_json(exc.status_code, exc.error, exc.detail if exc.detail is not None else exc.message,
                          headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body could not be read as JSON (it must be UTF-8 encoded JSON)"
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            methods = set(allowed_methods(request.app, request.url.path))
            methods |= {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()}
            headers["Allow"] = ", ".join(sorted(methods))
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return error_json(exc.status_code, STATUS_CODES.get(exc.status_code, "http_error"), detail,
                          headers or None)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (out-of-range time, malformed text): the input's fault. Its message can
        # quote the statement and the values of other tenants' rows, so it is logged, not returned.
        request_id = _request_id(request)
        log.warning("request %s %s %s: the database refused a value: %s", request_id, request.method,
                    request.url.path, str(exc.orig).splitlines()[0] if exc.orig else exc)
        return error_json(422, "invalid_input",
                          f"a value in the request is outside what can be stored (request id {request_id})",
                          {REQUEST_ID_HEADER: request_id})

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Requests check what they refer to before writing; a violation here means another request changed
        # it in between (a cube deleted while memories were being added to it): a conflict, not a crash.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        diag = getattr(exc.orig, "diag", None)
        # Logged: a violation that is not a race (a reference nobody checked) is a bug to find.
        log.warning("integrity error %s on %s: %s", sqlstate, getattr(diag, "constraint_name", None),
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
        if sqlstate == "23503":  # foreign_key_violation
            detail = "something this request refers to was deleted by another request meanwhile"
        elif sqlstate == "23505":  # unique_violation
            detail = "another request created the same record meanwhile"
        else:
            raise exc  # a bug, not a race: the server error path (logged, 500)
        return error_json(409, "conflict", detail)

    @app.exception_handler(ProgrammingError)
    async def _row_security(_request: Request, exc: ProgrammingError) -> JSONResponse:
        # Services check access before they write; when row-level security still refuses a row, the cube or the
        # caller's grant changed in between (deleted, revoked): a conflict. Anything else is a bug (500).
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise exc
        log.warning("row-level security refused a write: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        return error_json(409, "conflict", "the cube was deleted or your access to it changed while this request ran")

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Admission keeps requests within the pool; a wait past MEMOS_DB_POOL_TIMEOUT_S means something else
        # holds connections. Shed the request like admission does rather than fail it as a server error.
        log.warning("no pooled connection for %s %s: %s", request.method, request.url.path, exc)
        return error_json(503, "overloaded", "no database connection became free in time; retry shortly",
                          {"Retry-After": "1"})

    @app.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return error_json(503, "unavailable", "database unavailable")

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware calls this, then re-raises for the server to log as well.
        request_id = _request_id(request)
        log.error("request %s %s %s failed", request_id, request.method, request.url.path,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return error_json(500, "internal_error", f"the server failed on this request (request id {request_id})",
                          {REQUEST_ID_HEADER: request_id})


def _ref(model: type) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare on each operation the errors every route shares: a body that is not JSON (400), one over the
    byte cap (413) and validation (422, in the shape ``install_error_handlers`` sends). FastAPI's own
    ``HTTPValidationError`` (the bare ``{"detail": [...]}``) is replaced where it put it."""
    error = {"description": "Error", "content": {"application/json": {"schema": _ref(ErrorBody)}}}
    invalid = {"description": "Validation Error",
               "content": {"application/json": {"schema": _ref(ValidationErrorBody)}}}
    for item in openapi.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "patch") or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = invalid
            if "requestBody" in op:
                responses.setdefault("400", {**error, "description": "The body is not UTF-8 JSON"})
                responses.setdefault("413", {**error, "description": "Content too large"})
                responses.setdefault("422", invalid)
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for model in (ErrorBody, ValidationErrorBody):
        if model.__name__ not in schemas:
            full = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            schemas.update(full.pop("$defs", {}))
            schemas[model.__name__] = full
    return openapi
