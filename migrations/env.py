"""Alembic environment: migrations run as the schema owner (``memos_owner``, switched to from the
administrator's login), never as ``memos_app``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from memcube.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Two processes starting at once (server and worker) must not both migrate.
        connection.exec_driver_sql("SELECT pg_advisory_lock(727001)")
        role = config.attributes.get("role")
        if role:
            connection.exec_driver_sql(f'SET ROLE "{role}"')
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(727001)")
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
