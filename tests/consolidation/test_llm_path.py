"""The LLM path with litellm's mock_response (never the network): JSON parsing, retries, call counts."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.consolidation.llm_path import ExtractionOut
from memos.consolidation.service import build_consolidator, consolidate
from memos.embedding import Embedder
from memos.jobs.context import LLMUsage
from memos.llm import LLMClient, MalformedOutput
from tests.api.helpers import add_one
from tests.consolidation.helpers import Auth, post


def test_valid_json_is_one_call_with_tokens() -> None:
    usage = LLMUsage()
    llm = LLMClient("gpt-4o-mini", mock='```json\n{"facts": [{"text": "Alice lives in Oslo", "message": 0}]}\n```')
    out = llm.complete_json("extract", system="s", user="u", schema=ExtractionOut, usage=usage)
    assert out.facts[0].text == "Alice lives in Oslo"
    assert usage.calls == 1
    assert usage.tokens > 0


def test_malformed_then_valid_is_retried_and_counted() -> None:
    answers = iter(["not json at all", '{"facts": [{"text": 3}]}', '{"facts": []}'])
    usage = LLMUsage()
    llm = LLMClient("gpt-4o-mini", mock=lambda task, messages: next(answers))
    out = llm.complete_json("extract", system="s", user="u", schema=ExtractionOut, usage=usage)
    assert out.facts == []
    assert usage.calls == 3  # two malformed answers were paid for too


def test_always_malformed_gives_up() -> None:
    usage = LLMUsage()
    llm = LLMClient("gpt-4o-mini", mock="{oops", attempts=2)
    with pytest.raises(MalformedOutput):
        llm.complete_json("extract", system="s", user="u", schema=ExtractionOut, usage=usage)
    assert usage.calls == 2


def test_llm_consolidation_is_two_calls_per_batch_and_maps_handles(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    paris = add_one(client, cube_id, auth, "Alice lives in Paris.")
    accepted = post(client, cube_id, auth, ("Alice", "I moved to Berlin yesterday."), ("Alice", "I love jazz."))
    prompts: list[str] = []

    def model(task: str, messages: list[dict[str, str]]) -> str:
        prompts.append(task)
        if task == "extract":
            return json.dumps({"facts": [
                {"text": "Alice lives in Berlin since yesterday", "message": 0},
                {"text": "Alice loves jazz", "message": 1},
            ]})
        listing = json.loads(messages[1]["content"])["facts"]
        handle = next(c["handle"] for c in listing[0]["candidates"] if "Paris" in c["text"])
        return json.dumps({"decisions": [
            {"fact": 0, "action": "UPDATE", "target": handle, "text": None, "reason": "moved"},
            {"fact": 1, "action": "DELETE", "target": "m999", "reason": "made-up handle"},
        ]})

    usage = LLMUsage()
    with sessions() as s:
        s.info["tenant_id"] = uuid.UUID(client.get("/v1/cubes", headers=auth).json()["cubes"][0]["tenant_id"])
        job = jobs_repo.get_job(s, uuid.UUID(accepted["job_id"]))
        assert job is not None
        consolidator = build_consolidator(settings, usage=usage, llm=LLMClient("gpt-4o-mini", mock=model))
        result = consolidate(s, job, settings=settings, embedder=embedder, usage=usage, consolidator=consolidator)
        s.commit()
    assert prompts == ["extract", "decide"]
    assert usage.calls == 2
    assert result["path"] == "llm"
    actions = [(d["action"], d["target_id"]) for d in result["decisions"]]
    assert actions == [("UPDATE", paris["id"]), ("ADD", None)]  # the unknown handle cannot touch anything
    old = client.get(f"/v1/memories/{paris['id']}", headers=auth).json()
    assert (old["status"], old["content"], old["version"]) == ("archived", "Alice lives in Paris.", 2)
    got = client.get(f"/v1/memories/{old['metadata']['superseded_by']}", headers=auth).json()
    # the date the model left relative is resolved offline against the message time
    assert got["content"] == "Alice lives in Berlin since 7 May 2023"
    assert got["provenance"]["memory_ids"] == [paris["id"]]
