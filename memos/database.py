"""Which database a process uses and how it logs in: the one place settings become connection URLs.

Requests and workers log in as ``memos_app`` (``MEMOS_DATABASE_URL``); setting the database up (roles,
migrations, the tenant-context key) takes a superuser (``MEMOS_ADMIN_DATABASE_URL``). The embedded default
has both: its own superuser over a Unix socket, and ``memos_app`` on the same socket.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from memcube.bootstrap import app_url
from memcube.db import POOL_TIMEOUT_S, Database, assert_unprivileged, start_embedded
from memos.config import Settings

CONTEXT_SECRET_FILE = "context_secret"


class ConfigurationError(RuntimeError):
    """The settings do not say how to reach the database safely."""


@dataclass(frozen=True)
class DatabaseAccess:
    """The request login, the administrator's login when this process has one, and the context key."""

    app_url: str
    admin_url: str | None
    context_key: bytes

    def database(self, *, pool_size: int, pool_timeout: float = POOL_TIMEOUT_S) -> Database:
        """An engine and sessions on the request login, refused if that login could bypass row-level security."""
        database = Database(self.app_url, context_key=self.context_key, pool_size=pool_size,
                            pool_timeout=pool_timeout)
        try:
            assert_unprivileged(database.engine)
        except BaseException:
            database.dispose()
            raise
        return database

    def setup(self, settings: Settings) -> None:
        """Create the roles, migrate and install the context key (needs the administrator's login)."""
        from migrations.runner import setup_database

        if self.admin_url is None:
            raise ConfigurationError("setting the database up needs MEMOS_ADMIN_DATABASE_URL (a superuser URL)")
        setup_database(self.admin_url, context_key=self.context_key, app_password=settings.app_db_password)


def _generated_secret(home: Path) -> str:
    """The embedded default's context secret: made once, kept under MEMOS_HOME, readable by its owner only."""
    path = home / CONTEXT_SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def resolve(settings: Settings) -> DatabaseAccess:
    """Where this process connects (starting the embedded PostgreSQL if that is the configuration)."""
    if settings.database_url:
        if not settings.context_secret:
            raise ConfigurationError("MEMOS_CONTEXT_SECRET is required with MEMOS_DATABASE_URL: every process "
                                     "of the service signs the tenant context with it (any long random string)")
        return DatabaseAccess(app_url=settings.database_url, admin_url=settings.admin_database_url,
                              context_key=settings.context_secret.encode())
    secret = settings.context_secret or _generated_secret(settings.home)
    admin = settings.admin_database_url or start_embedded(settings.pgdata)
    return DatabaseAccess(app_url=app_url(admin, settings.app_db_password), admin_url=admin,
                          context_key=secret.encode())


def prepare(settings: Settings) -> DatabaseAccess:
    """``resolve``, then set the database up when this process holds the administrator's login."""
    access = resolve(settings)
    if access.admin_url is not None:
        access.setup(settings)
    return access
