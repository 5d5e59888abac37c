"""Signing in to the dashboard with an API key, and who is looking.

The key is kept in an HttpOnly, SameSite=Strict cookie scoped to ``/dashboard`` (no script can read it, and
no other site's page can make the browser send it). Each request resolves it exactly as the REST API resolves
a bearer key (:func:`memos.tenants.service.authenticate`): the request's one session switches to the key's
tenant, so every page reads under the same row-level security as the API. The admin key's session starts in
the system context (every tenant); a page about one cube or memory switches it to the owner's tenant first
(:meth:`Viewer.enter_cube`), so the admin sees a cube exactly as its owner does.

State-changing forms carry a CSRF token derived from the key (an HMAC: a page that does not know the key
cannot compute it); signing in, when there is no key yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, StateDep
from memcube.db import set_tenant
from memcube.models import Cube
from memcube.repository import dashboard as repo
from memos.cubes.service import AccessLevel, load_cube
from memos.errors import Forbidden, MemOSError, NotFound, Unauthorized
from memos.tenants.service import Principal, authenticate

COOKIE = "memos_dashboard"
LOGIN_CSRF_COOKIE = "memos_dashboard_login"
PATH = "/dashboard"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(MemOSError):
    """No key, or a key that no longer works: the page sends the browser to the sign-in form."""

    status_code = 401
    error = "sign_in_required"


def csrf_token(key: str) -> str:
    return hmac.new(key.encode(), b"memos-dashboard-csrf", hashlib.sha256).hexdigest()


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def same_origin(request: Request) -> bool:
    """A browser names the page a form came from (``Origin``, else ``Referer``); refuse another site's."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None  # no header (not a browser form): the token decides; "null": opaque, refuse
    # Host only: behind a TLS-terminating proxy the page is https while this request arrives as http.
    return urlsplit(source).netloc == request.url.netloc


def check_csrf(request: Request, expected: str, given: str | None) -> None:
    given = given or request.headers.get(CSRF_HEADER)
    if not given or not hmac.compare_digest(given, expected) or not same_origin(request):
        raise Forbidden("this form has expired or did not come from this dashboard: reload the page and try again")


def set_key_cookie(response: Response, request: Request, key: str) -> None:
    response.set_cookie(COOKIE, key, path=PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


@dataclass
class Viewer:
    """Who is looking, the request's session (in their tenant context), and the token their forms carry."""

    principal: Principal
    session: Session
    csrf: str
    tenant_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def who(self) -> str:
        return "admin (all tenants)" if self.is_admin else f"tenant {self.tenant_name or self.principal.tenant_id}"

    def enter_tenant_of(self, owner: uuid.UUID | None) -> Principal:
        """The principal to act as on a record of ``owner``'s: the viewer, or for the admin, the owner's
        tenant (the session switches to it, so row-level security applies as for the owner)."""
        if not self.is_admin:
            return self.principal
        if owner is None:
            raise NotFound("not found")
        set_tenant(self.session, owner)
        return Principal(tenant_id=owner, is_admin=True)

    def enter_cube(self, cube_id: uuid.UUID, *, need: AccessLevel = "read") -> tuple[Cube, AccessLevel, Principal]:
        acting = self.enter_tenant_of(repo.cube_owner(self.session, cube_id) if self.is_admin else None)
        assert acting.tenant_id is not None
        cube, access = load_cube(self.session, cube_id, acting.tenant_id, need=need)
        return cube, access, acting

    def enter_memory(self, memory_id: uuid.UUID) -> Principal:
        return self.enter_tenant_of(repo.memory_owner(self.session, memory_id) if self.is_admin else None)


def get_viewer(request: Request, state: StateDep, session: SessionDep) -> Viewer:
    key = request.cookies.get(COOKIE)
    if not key:
        raise SignInRequired("sign in with an API key to use the dashboard")
    try:
        principal = authenticate(session, key, admin_hash=state.admin_hash, cache=state.principals)
    except Unauthorized as exc:
        raise SignInRequired("your API key is no longer valid (revoked?): sign in again") from exc
    names = repo.tenant_names(session, [principal.tenant_id]) if principal.tenant_id is not None else {}
    return Viewer(principal=principal, session=session, csrf=csrf_token(key),
                  tenant_name=names.get(principal.tenant_id) if principal.tenant_id is not None else None)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
