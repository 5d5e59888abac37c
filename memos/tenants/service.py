"""Tenants, API keys and the admin key."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from memcube.db import SYSTEM, set_tenant
from memcube.models import DEFAULT_KEY_MAX_TRUST, ApiKey, Tenant
from memcube.repository import tenants as repo
from memos.errors import NotFound, Unauthorized
from memos.memories.versions import Attribution

if TYPE_CHECKING:
    from memos.tenants.cache import PrincipalCache

log = logging.getLogger(__name__)

KEY_PREFIX = "mk_"
ADMIN_KEY_FILE = "admin_key.sha256"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant (through one of its keys) or the administrator."""

    tenant_id: uuid.UUID | None
    key_id: uuid.UUID | None = None
    is_admin: bool = False
    max_trust: float = DEFAULT_KEY_MAX_TRUST  # the key's provenance.trust ceiling

    @property
    def actor(self) -> str:
        """How versions and provenance name this caller (a client cannot claim another)."""
        return "admin" if self.is_admin else f"key:{self.key_id}"

    @property
    def cause(self) -> Attribution:
        """The attribution of what this caller's request writes, directly or through the jobs it enqueues."""
        return Attribution(key_id=self.key_id, tenant_id=self.tenant_id)


def create_tenant(session: Session, *, name: str) -> Tenant:
    return repo.create_tenant(session, name)


def create_key(session: Session, tenant_id: uuid.UUID, *, name: str,
               max_trust: float = DEFAULT_KEY_MAX_TRUST) -> tuple[ApiKey, str]:
    """A new key of the tenant; ``max_trust`` is the highest ``provenance.trust`` its writes may assert."""
    if repo.get_tenant(session, tenant_id) is None:
        raise NotFound("tenant not found")
    secret = new_secret()
    return repo.create_key(session, tenant_id, name, hash_key(secret), max_trust=max_trust), secret


def revoke_key(session: Session, key_id: uuid.UUID) -> None:
    if not repo.revoke_key(session, key_id):
        raise NotFound("key not found")


def _known(digest: str, *, admin_hash: str, cache: PrincipalCache | None) -> Principal | None:
    if secrets.compare_digest(digest, admin_hash):
        return Principal(tenant_id=None, is_admin=True)
    return cache.get(digest) if cache is not None else None


def authenticate_known(session: Session, secret: str, *, admin_hash: str, cache: PrincipalCache | None = None
                       ) -> Principal | None:
    """``authenticate`` for the admin key and cached keys, which costs no I/O (the session has not begun its
    transaction: the context is set when it does); ``None`` when the key must be looked up."""
    principal = _known(hash_key(secret), admin_hash=admin_hash, cache=cache)
    if principal is not None:
        set_tenant(session, SYSTEM if principal.is_admin else principal.tenant_id)
    return principal


def authenticate(session: Session, secret: str, *, admin_hash: str, cache: PrincipalCache | None = None) -> Principal:
    """Resolve a bearer secret and leave ``session`` in the caller's context (the system one for the admin).

    The admin key and a key in ``cache`` cost no statement: the context is set when the request's transaction
    begins. Any other key is looked up in the system context (keys of every tenant), then the same transaction
    switches to the key's tenant.
    """
    digest = hash_key(secret)
    principal = _known(digest, admin_hash=admin_hash, cache=cache)
    if principal is None:
        generation = cache.generation if cache is not None else 0
        set_tenant(session, SYSTEM)
        try:
            key = repo.find_active_key(session, digest)
        except BaseException:
            set_tenant(session, None)
            raise
        if key is None:
            set_tenant(session, None)
            raise Unauthorized("invalid or revoked API key")
        principal = Principal(tenant_id=key.tenant_id, key_id=key.id, max_trust=key.max_trust)
        if cache is not None:
            cache.put(digest, principal, generation=generation)
    set_tenant(session, SYSTEM if principal.is_admin else principal.tenant_id)
    return principal


def ensure_admin_key(home: Path, configured: str | None) -> tuple[str, str | None]:
    """Return (admin key hash, the new key if one was generated now).

    ``MEMOS_ADMIN_KEY`` wins; otherwise a key is generated once, printed by the caller, and only its hash
    is kept (mode 0600) under ``MEMOS_HOME``. Delete that file to generate a new one.
    """
    if configured:
        return hash_key(configured), None
    path = home / ADMIN_KEY_FILE
    if path.exists():
        return path.read_text().strip(), None
    home.mkdir(parents=True, exist_ok=True)
    secret = new_secret()
    # Written whole under a private name, then linked into place: link() fails if the file exists, so when
    # several processes start at once (uvicorn --workers) exactly one key wins, and no process can read a
    # file another has created but not yet written.
    tmp = home / f".{ADMIN_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(hash_key(secret) + "\n")
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text().strip(), None
    finally:
        tmp.unlink(missing_ok=True)
    return hash_key(secret), secret
