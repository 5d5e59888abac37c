"""The LLM, through litellm, used only when ``MEMOS_LLM_MODEL`` is set (every caller has an offline path).

``LLMClient.complete_json`` asks for one JSON object, validates it with a pydantic model and retries
(tenacity, bounded) when the output is malformed. Every call made, failed ones included, is added to a
usage sink (the job's ``ctx.usage``), which the job runner stores as ``jobs.llm_calls`` / ``llm_tokens``:
that is the per-tenant cost.

litellm takes ~2 s to import and reaches for the network and ``./.env`` unless told not to, so it is
imported on first use, after the three variables below are set.

Tests never touch the network: they give the client a ``mock`` (a string, or a function of the task name
and the prompt returning a string), which is passed to litellm as ``mock_response``; litellm then returns
a real ``ModelResponse`` with usage figures.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from memos.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Mock = str | Callable[[str, list[dict[str, str]]], str]

_LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_MODE": "PRODUCTION",
}


class UsageSink(Protocol):
    """Where calls and tokens are counted (``memos.jobs.context.LLMUsage`` is one)."""

    def add(self, calls: int, tokens: int) -> None: ...


class MalformedOutput(Exception):
    """The model's answer was not the JSON object asked for (retried, then raised)."""


def _litellm() -> Any:
    for key, value in _LITELLM_ENV.items():
        os.environ.setdefault(key, value)
    import litellm

    return litellm


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (tolerates code fences and prose around it)."""
    cleaned = _FENCE.sub("", text.strip())
    start = cleaned.find("{")
    if start < 0:
        raise MalformedOutput("no JSON object in the answer")
    try:
        obj, _ = json.JSONDecoder().raw_decode(cleaned[start:])
    except json.JSONDecodeError as exc:
        raise MalformedOutput(f"invalid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MalformedOutput("the answer is not a JSON object")
    return obj


class LLMClient:
    """One configured model. ``attempts`` bounds the retries on malformed output."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        timeout_s: float = 60.0,
        attempts: int = 3,
        mock: Mock | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.mock = mock

    def _call(self, task: str, messages: list[dict[str, str]], usage: UsageSink | None) -> str:
        litellm = _litellm()
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "timeout": self.timeout_s,
                                  "temperature": 0}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.mock is not None:
            kwargs["mock_response"] = self.mock(task, messages) if callable(self.mock) else self.mock
        else:
            kwargs["response_format"] = {"type": "json_object"}
        response = litellm.completion(**kwargs)
        tokens = int(getattr(getattr(response, "usage", None), "total_tokens", 0) or 0)
        if usage is not None:
            usage.add(1, tokens)
        return str(response.choices[0].message.content or "")

    def complete_json(
        self,
        task: str,
        *,
        system: str,
        user: str,
        schema: type[T],
        usage: UsageSink | None = None,
    ) -> T:
        """Ask for a JSON object matching ``schema``; retry on malformed output, then raise MalformedOutput."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            retry=retry_if_exception_type(MalformedOutput),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                text = self._call(task, messages, usage)
                try:
                    return schema.model_validate(parse_json_object(text))
                except ValidationError as exc:
                    log.info("LLM %s: output does not match %s, retrying", task, schema.__name__)
                    raise MalformedOutput(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises


def get_llm(settings: Settings, *, mock: Mock | None = None) -> LLMClient | None:
    """The configured model, or None for the offline path (``MEMOS_LLM_MODEL`` unset)."""
    if not settings.llm_model:
        return None
    return LLMClient(settings.llm_model, api_base=settings.llm_api_base, timeout_s=settings.llm_timeout_s,
                     mock=mock)
