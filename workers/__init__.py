"""Celery workers, beat schedule, the outbox relay and the embedded background path of ``memos serve``."""
