"""Run Alembic programmatically, so the installed package migrates without an alembic.ini lying around."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from memcube.bootstrap import OWNER, bootstrap_roles, install_context_key

HERE = Path(__file__).resolve().parent


def alembic_config(url: str, role: str | None = None) -> Config:
    """Alembic's configuration for ``url``; with ``role``, migrations run as that role (``SET ROLE``)."""
    cfg = Config()
    cfg.attributes["role"] = role
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    # ConfigParser interpolation: a literal % in a URL must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, role: str | None = OWNER) -> None:
    command.upgrade(alembic_config(url, role), revision)


def downgrade(url: str, revision: str, *, role: str | None = OWNER) -> None:
    command.downgrade(alembic_config(url, role), revision)


def setup_database(admin_url: str, *, context_key: bytes, app_password: str | None = None) -> None:
    """Everything an administrator's connection does before requests can run: the two roles, the
    migrations (as the schema owner) and the tenant-context key."""
    bootstrap_roles(admin_url, app_password=app_password)
    upgrade(admin_url)
    install_context_key(admin_url, context_key)
