"""Operations tests reuse the background path of tests/workers: a committed database, a real Redis and real
Celery worker processes."""

from tests.workers.conftest import background, redis_url

__all__ = ["background", "redis_url"]
