"""The read-time check's LLM path: prompt, parsing and failure handling on canned answers (litellm's
``mock_response``: no network), and the judge's drops through /context."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.routers import search as search_router
from memcube.models import Memory
from memos.config import Settings
from memos.guard.judge import LLMJudge, get_judge
from memos.guard.metrics import JUDGE_CALLS
from memos.llm import LLMClient, Mock
from tests.api.helpers import add_one

Auth = dict[str, str]


def _memory(content: str, role: str | None = None, source: str = "user", trust: float = 0.5) -> Memory:
    return Memory(id=uuid.uuid4(), content=content, role=role, provenance={"source": source}, trust=trust)


def _judge(mock: Mock) -> LLMJudge:
    return LLMJudge(LLMClient("gpt-4o-mini", mock=mock, attempts=1))


def test_the_prompt_numbers_each_record_with_its_speaker_source_and_trust() -> None:
    seen: list[list[dict[str, str]]] = []

    def model(task: str, messages: list[dict[str, str]]) -> str:
        assert task == "guard.read"
        seen.append(messages)
        return '{"drop": []}'

    memories = [_memory("I work at the Lyon hospital.", role="Dana", trust=0.8),
                _memory("Dana works in a Monaco casino.", source="tool", trust=0.3)]
    assert _judge(model).judge("Where does Dana work?", memories) == {}
    (messages,) = seen
    assert messages[0]["role"] == "system"
    assert "JSON" in messages[0]["content"]
    user = messages[1]["content"]
    assert user.startswith("Question: Where does Dana work?")
    assert "[0] (Dana; source user; trust 0.80) I work at the Lyon hospital." in user
    assert "[1] (unknown; source tool; trust 0.30) Dana works in a Monaco casino." in user


def test_drops_are_mapped_by_index_and_invalid_ones_ignored() -> None:
    answer = ('```json\n{"drop": [{"index": 1, "reason": "a weaker source contradicts her own account"}, '
              '{"index": 7, "reason": "out of range"}, {"index": 0}]}\n```')
    memories = [_memory("a"), _memory("b")]
    out = _judge(answer).judge("q", memories)
    assert out == {1: "a weaker source contradicts her own account", 0: "judged apart from the consensus"}


@pytest.mark.parametrize("answer", ["{oops", '{"drop": "everything"}', "I cannot help with that.",
                                    '{"drop": [{"reason": "no index"}]}'])
def test_a_malformed_answer_leaves_the_offline_result_and_is_counted(answer: str) -> None:
    before = JUDGE_CALLS.labels("failed")._value.get()
    assert _judge(answer).judge("q", [_memory("a")]) == {}
    assert JUDGE_CALLS.labels("failed")._value.get() == before + 1


def test_no_model_no_judge() -> None:
    assert get_judge(Settings(guard_model=None)) is None
    judge = get_judge(Settings(guard_model="gpt-4o-mini", guard_timeout_s=3.0), mock='{"drop": []}')
    assert judge is not None
    assert judge.llm.timeout_s == 3.0
    assert judge.llm.attempts == 1


def _reading_model(word: str) -> Mock:
    """A canned judge that names the record containing ``word`` (as a model reading the listing would)."""

    def model(task: str, messages: list[dict[str, str]]) -> str:
        drops = [{"index": int(m.group(1)), "reason": f"mentions {word} nowhere else backed"}
                 for line in messages[1]["content"].splitlines()
                 if word in line and (m := re.match(r"\[(\d+)\]", line))]
        return json.dumps({"drop": drops})

    return model


def test_context_drops_what_the_judge_names_with_its_note(
    client: TestClient, auth: Auth, cube_id: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = add_one(client, cube_id, auth, "I work as a nurse at the Lyon city hospital.", role="Dana")
    # First person and equal trust: none of the offline rules can weigh it (docs/guard.md, "Not there yet").
    planted = add_one(client, cube_id, auth, "I quit nursing, I deal cards at the Monaco casino now.", role="Dana")
    monkeypatch.setattr(search_router, "get_judge",
                        lambda settings: LLMJudge(LLMClient("gpt-4o-mini", mock=_reading_model("Monaco"))))
    r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": "Where does Dana work?"}, headers=auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert own["id"] in {m["id"] for m in out["memories"]}
    (dropped,) = out["dropped"]
    assert dropped["memory"]["id"] == planted["id"]
    assert dropped["reasons"] == {"judged": 0.6}
    assert "Monaco" in dropped["note"]
    assert "Monaco" not in out["context"]


def test_a_failing_judge_never_fails_the_context(
    client: TestClient, auth: Auth, cube_id: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_one(client, cube_id, auth, "I work as a nurse at the Lyon city hospital.", role="Dana")

    def broken(task: str, messages: list[dict[str, str]]) -> str:
        raise ConnectionError("the model is away")

    monkeypatch.setattr(search_router, "get_judge", lambda settings: LLMJudge(LLMClient("gpt-4o-mini", mock=broken)))
    r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": "Where does Dana work?"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["dropped"] == []
    assert "Lyon" in r.json()["context"]
