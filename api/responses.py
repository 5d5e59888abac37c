"""Responses of the hot routes, serialised once.

A route that returns a pydantic model has FastAPI validate it again against its ``response_model`` (for a
``def`` route in the thread pool: one more hop between a worker thread and the event loop) before
serialising it. A model the route built itself is already valid: ``json_response`` hands pydantic's Rust
serializer straight to the response's bytes. The route keeps its ``response_model`` for the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, *, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(by_alias=True), media_type="application/json", status_code=status_code)
