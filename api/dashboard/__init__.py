"""The admin dashboard at ``/dashboard``: server-rendered pages (Jinja2) with htmx and cytoscape.js served
from ``static/vendor`` (copied from the npm registry with their licences; no CDN). See docs/dashboard.md."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.dashboard.routes import router

STATIC = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files to ``app``."""
    # The files first: the router ends with a catch-all "no such page" route.
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.include_router(router)
