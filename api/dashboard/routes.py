"""The dashboard's routes: server-rendered pages under ``/dashboard`` (left out of the OpenAPI document).

Errors become pages, not JSON: a missing or revoked key sends the browser to the sign-in form, any other
``MemOSError`` or validation error renders the error page with its status and message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.dashboard import auth, views
from api.dashboard.auth import ViewerDep
from api.deps import EmbedderDep, SessionDep, StateDep
from memos.errors import MemOSError, Unauthorized
from memos.linking.graph import MAX_NODES
from memos.tenants.service import authenticate

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# No inline script anywhere (scripts come from /dashboard/static); cytoscape and htmx set element styles.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "—"


def _short(value: Any) -> str:
    return str(value)[:8]


PLURALS = {"memories": "memory", "cubes": "cube", "jobs": "job"}


def _plural(n: int, noun: str) -> str:
    """``n`` and the plural noun, made singular for one."""
    return f"{n:,} {PLURALS.get(noun, noun) if n == 1 else noun}"


templates.env.filters["time"] = _fmt_time
templates.env.filters["short"] = _short
templates.env.filters["plural"] = _plural
templates.env.filters["mib"] = lambda n: f"{(n or 0) / 1048576:,.1f} MiB"
templates.env.globals["max_nodes"] = MAX_NODES


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
    return "; ".join(parts) or "the request was not understood"


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(request, "error.html", {"status": status, "message": message, "viewer": None},
                                      status_code=status)


class DashboardRoute(APIRoute):
    """Renders errors as pages and adds the security headers to every dashboard response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except auth.SignInRequired as exc:
                # Back to this page after signing in (a form's target only as a page to come back to).
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                back = target if request.method == "GET" else f"{auth.PATH}/"
                response = RedirectResponse(
                    f"{auth.PATH}/login?" + urlencode({"next": back, "why": exc.message}), status_code=303)
            except MemOSError as exc:
                response = error_page(request, exc.status_code, exc.message)
            except RequestValidationError as exc:
                response = error_page(request, 422, _validation_message(exc))
            response.headers.update(SECURITY_HEADERS)
            return response

        return route


router = APIRouter(prefix=auth.PATH, include_in_schema=False, route_class=DashboardRoute)

PageSize = Annotated[int, Query(ge=1, le=views.MAX_PAGE, description="rows per page")]
Cursor = Annotated[str | None, Query(max_length=400)]


def render(request: Request, name: str, viewer: auth.Viewer | None, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"viewer": viewer, **context})


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard (never another site: an open redirect)."""
    if target and target.startswith(auth.PATH) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{auth.PATH}/"


# ---------------------------------------------------------------- signing in and out
def _login_form(request: Request, *, error: str | None, status: int, next_: str | None,
                notice: str | None = None) -> HTMLResponse:
    token = auth.new_login_token()
    response = templates.TemplateResponse(
        request, "login.html", {"viewer": None, "error": error, "notice": notice, "next": _safe_next(next_),
                                "login_csrf": token}, status_code=status)
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, path=auth.PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None,
               why: Annotated[str | None, Query(max_length=300)] = None) -> HTMLResponse:
    # Coming from a page that needs a key: say why, unless it was simply the first visit.
    notice = why if why and request.cookies.get(auth.COOKIE) else None
    return _login_form(request, error=None, status=200, next_=next, notice=notice)


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    expected = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not expected or csrf != expected or not auth.same_origin(request):
        return _login_form(request, error="The sign-in form expired: please try again.", status=403, next_=next)
    key = api_key.strip()
    if not key:
        return _login_form(request, error="Enter an API key.", status=422, next_=next)
    try:
        authenticate(session, key, admin_hash=state.admin_hash, cache=state.principals)
    except Unauthorized:
        return _login_form(request, error="That API key was not accepted: it is not a key of this service, or "
                           "it has been revoked.", status=401, next_=next)
    response = RedirectResponse(_safe_next(next), status_code=303)
    auth.set_key_cookie(response, request, key)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path=auth.PATH)
    return response


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    auth.check_csrf(request, viewer.csrf, csrf)
    response = RedirectResponse(f"{auth.PATH}/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path=auth.PATH)
    return response


# ---------------------------------------------------------------- pages
@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse(f"{auth.PATH}/", status_code=307)


@router.get("/")
def overview(request: Request, viewer: ViewerDep, state: StateDep, cursor: Cursor = None,
             limit: PageSize = views.PAGE) -> HTMLResponse:
    data = views.overview(viewer, state, cursor=cursor, limit=limit)
    return render(request, "overview.html", viewer, o=data, cursor=cursor, limit=limit)


@router.get("/cubes/{cube_id}")
def cube(
    request: Request,
    cube_id: uuid.UUID,
    viewer: ViewerDep,
    state: StateDep,
    embedder: EmbedderDep,
    q: Annotated[str | None, Query(max_length=2000)] = None,
    mode: Annotated[str, Query(pattern="^(hybrid|dense|lexical)$")] = "hybrid",
    status: Annotated[str | None, Query(pattern="^(active|quarantined|archived|deleted)?$")] = None,
    kind: Annotated[str | None, Query(pattern="^(plaintext|activation|parametric)?$")] = None,
    cursor: Cursor = None,
    limit: PageSize = views.PAGE,
) -> HTMLResponse:
    query = q.strip() if q else None
    data = views.cube_page(viewer, cube_id, query=query or None, mode=mode, status=status or None,
                           kind=kind or None, cursor=cursor, limit=limit, embedder=embedder, settings=state.settings)
    params = {k: v for k, v in {"status": status, "kind": kind, "limit": limit}.items() if v}
    return render(request, "cube.html", viewer, p=data, cube=data.cube, mode=mode, status=status or "",
                  kind=kind or "", cursor=cursor, limit=limit, params=params, kinds=views.KINDS,
                  statuses=views.STATUSES, section="memories")


@router.get("/cubes/{cube_id}/graph")
def graph_page(request: Request, cube_id: uuid.UUID, viewer: ViewerDep,
               limit: Annotated[int, Query(ge=1, le=MAX_NODES)] = views.GRAPH_NODES,
               center: uuid.UUID | None = None) -> HTMLResponse:
    cube, access, _ = viewer.enter_cube(cube_id)
    params = {"limit": limit, **({"center": str(center)} if center else {})}
    return render(request, "graph.html", viewer, cube=cube, access=access, limit=limit, center=center,
                  data_url=f"{auth.PATH}/cubes/{cube.id}/graph.json?{urlencode(params)}", section="graph")


@router.get("/cubes/{cube_id}/graph.json")
def graph_json(cube_id: uuid.UUID, viewer: ViewerDep,
               limit: Annotated[int, Query(ge=1, le=MAX_NODES)] = views.GRAPH_NODES,
               center: uuid.UUID | None = None) -> JSONResponse:
    return JSONResponse(views.graph_data(viewer, cube_id, limit=limit, center=center))


@router.get("/cubes/{cube_id}/quarantine")
def quarantine(request: Request, cube_id: uuid.UUID, viewer: ViewerDep, cursor: Cursor = None,
               limit: PageSize = views.PAGE,
               done: Annotated[str | None, Query(pattern="^(approved|rejected)$")] = None,
               memory: uuid.UUID | None = None) -> HTMLResponse:
    data = views.quarantine_page(viewer, cube_id, cursor=cursor, limit=limit)
    return render(request, "quarantine.html", viewer, p=data, cube=data.cube, cursor=cursor, limit=limit,
                  done=done, reviewed=memory, section="quarantine")


@router.post("/memories/{memory_id}/review")
def review(
    request: Request,
    memory_id: uuid.UUID,
    viewer: ViewerDep,
    decision: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str | None, Form(max_length=2000)] = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    auth.check_csrf(request, viewer.csrf, csrf)
    head = views.review(viewer, memory_id, decision=decision, note=note)
    viewer.session.commit()
    done = "approved" if head.status == "active" else "rejected"
    target = _safe_next(back) if back else f"{auth.PATH}/cubes/{head.cube_id}/quarantine"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}done={done}&memory={quote(str(head.id))}", status_code=303)


@router.get("/memories/{memory_id}")
def memory(
    request: Request,
    memory_id: uuid.UUID,
    viewer: ViewerDep,
    a: Annotated[int | None, Query(ge=1)] = None,
    b: Annotated[int | None, Query(ge=1)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    done: Annotated[str | None, Query(pattern="^(approved|rejected)$")] = None,
) -> HTMLResponse:
    data = views.memory_page(viewer, memory_id, a=a, b=b, page=page)
    return render(request, "memory.html", viewer, p=data, cube=data.cube, done=done, section="memories")


@router.get("/jobs")
def jobs(
    request: Request,
    viewer: ViewerDep,
    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed)?$")] = None,
    cube: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: PageSize = views.PAGE,
) -> HTMLResponse:
    data = views.jobs_page(viewer, status=status or None, cube_id=cube, cursor=cursor, limit=limit)
    params = {k: v for k, v in {"status": status, "cube": cube, "limit": limit}.items() if v}
    return render(request, "jobs.html", viewer, p=data, status=status or "", cursor=cursor, limit=limit,
                  params=params, statuses=views.JOB_STATUSES, cube=data.cube, section="jobs")


@router.get("/{rest:path}")
def no_such_page(request: Request, rest: str) -> HTMLResponse:
    return error_page(request, 404, f"there is no dashboard page at /dashboard/{rest[:200]}")
