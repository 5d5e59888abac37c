"""Alembic migrations; ``migrations.runner.upgrade(url)`` applies them (``memos migrate``)."""
