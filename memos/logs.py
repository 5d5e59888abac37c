"""Logging for every process (API, workers, beat): one JSON object per line (``MEMOS_LOG_FORMAT=json``, the
default) or plain text, each record carrying the id of the request it was logged in.

The request id lives in a context variable set by the API's middleware (``api/request_id.py``); a filter
copies it onto every record, so a handler's or a library's log line names its request without being passed
anything. Outside a request it is absent (``null`` in JSON).
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("memos_request_id", default=None)

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request id on the record (a filter on the handler, so every logger's records get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                             datefmt="%Y-%m-%dT%H:%M:%S%z")
    return logging.Formatter(TEXT_FORMAT)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A ``dictConfig`` for the root logger and uvicorn's (which ``uvicorn.run(log_config=...)`` takes too)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Names, not objects: uvicorn pickles this into the web processes it spawns.
        "filters": {"request_id": {"()": "memos.logs.RequestIdFilter"}},
        "formatters": {"memos": {"()": "memos.logs.formatter", "fmt": fmt}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "memos", "filters": ["request_id"]}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        # uvicorn's own loggers propagate to the root; its access log is replaced by ``memos.access``.
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")}
        | {"uvicorn.access": {"handlers": [], "propagate": False}},
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(logging_config(level, fmt))


def use_format_on(logger: logging.Logger, fmt: str) -> None:
    """Give the handlers another library set up (Celery's) our format and the request id filter."""
    for handler in logger.handlers:
        handler.setFormatter(formatter(fmt))
        handler.addFilter(RequestIdFilter())
