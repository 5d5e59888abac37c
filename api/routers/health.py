"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep
from memos import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: StateDep) -> JSONResponse:
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # report, don't raise: health checks must answer
        db = f"error: {type(exc).__name__}"
    status = 200 if db == "ok" else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "database": db,
                         "version": __version__}, status_code=status)
