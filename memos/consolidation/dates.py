"""Moved to :mod:`memos.temporal` (shared with retrieval); kept so older imports keep working."""

from memos.temporal import ResolvedDate, resolve_dates

__all__ = ["ResolvedDate", "resolve_dates"]
