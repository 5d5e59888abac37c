"""Composition through the API: ``activation_ids`` compose several stored snapshots into one prefix.

What compose guarantees (tests/activation/test_compose.py): at ``recompute_ratio`` 1.0 the composed cache is
a full prefill of its token ids up to float rounding, and those ids are the snapshots' texts joined by a
newline (the tiny model's WordPiece drops the newline itself). So through the API, composing two activations
at 1.0 gives the greedy tokens of one activation of the joined text, and of that text + " " + the prompt
without any snapshot. The tiny model; fixtures and helpers from test_api."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory
from memcube.schemas import DEFAULT_RECOMPUTE_RATIO, MAX_COMPOSED_ACTIVATIONS
from memos.config import Settings
from memos.jobs.context import JobContext
from tests.activation.test_api import (  # noqa: F401 - fixtures used by name
    Auth,
    activation,
    app_state,
    built,
    create,
    ctx,
    generate,
    run,
    runtime,
)

PROMPT = "Where does Alice live?"


@pytest.fixture
def pair(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,  # noqa: F811
         built: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: F811
    """Two activations of one memory each: the ``built`` activation's two sources, oldest first."""
    out = []
    for memory in built["memories"]:
        accepted = create(client, cube_id, auth, memory_ids=[memory["id"]])
        run(sessions, ctx, accepted["job_id"])
        out.append(activation(client, auth, accepted["activation"]["id"]))
    return out


def test_composing_everything_recomputed_equals_one_activation_of_the_joined_text(
        client: TestClient, auth: Auth, cube_id: str, built: dict[str, Any],  # noqa: F811
        pair: list[dict[str, Any]]) -> None:
    texts = [client.get(f"/v1/memories/{a['id']}", headers=auth).json()["content"] for a in [built, *pair]]
    assert texts[0] == texts[1] + "\n" + texts[2]
    composed = generate(client, cube_id, auth, PROMPT, activation_ids=[a["id"] for a in pair], recompute_ratio=1.0)
    single = generate(client, cube_id, auth, PROMPT, activation_id=built["id"])
    plain = generate(client, cube_id, auth, texts[0] + " " + PROMPT)
    assert composed["text"] == single["text"] == plain["text"]
    assert composed["used"]["activation_id"] is None
    assert composed["used"]["version"] is None
    assert composed["used"]["recompute_ratio"] == 1.0
    assert composed["used"]["activations"] == [{"activation_id": a["id"], "version": 2, "stale": False}
                                               for a in pair]
    timings = composed["timings"]
    assert timings["cached_tokens"] == built["tokens"] == pair[0]["tokens"] + pair[1]["tokens"]
    assert timings["prefill_tokens"] == single["timings"]["prefill_tokens"]
    assert timings["recomputed_tokens"] == pair[1]["tokens"]  # every token after the first chunk
    assert 0 < timings["compose_ms"] <= timings["ttft_ms"]
    assert single["timings"]["compose_ms"] is None
    assert single["timings"]["recomputed_tokens"] is None


def test_ratio_zero_reencodes_positions_only_and_the_default_recomputes_some(
        client: TestClient, auth: Auth, cube_id: str, pair: list[dict[str, Any]]) -> None:
    ids = [a["id"] for a in pair]
    zero = generate(client, cube_id, auth, PROMPT, activation_ids=ids, recompute_ratio=0.0)
    assert zero["timings"]["recomputed_tokens"] == 0
    assert zero["used"]["recompute_ratio"] == 0.0
    default = generate(client, cube_id, auth, PROMPT, activation_ids=list(reversed(ids)))
    total = pair[0]["tokens"] + pair[1]["tokens"]
    assert default["used"]["recompute_ratio"] == DEFAULT_RECOMPUTE_RATIO
    assert default["timings"]["recomputed_tokens"] == round(DEFAULT_RECOMPUTE_RATIO * total) > 0
    assert [a["activation_id"] for a in default["used"]["activations"]] == list(reversed(ids))


def test_a_composition_streams(client: TestClient, auth: Auth, cube_id: str, pair: list[dict[str, Any]]) -> None:
    ids = [a["id"] for a in pair]
    body = {"model": "tiny", "prompt": PROMPT, "activation_ids": ids, "max_new_tokens": 6, "stream": True}
    with client.stream("POST", f"/v1/cubes/{cube_id}/generate", json=body, headers=auth) as r:
        assert r.status_code == 200
        raw = "".join(r.iter_text())
    done = json.loads(raw.strip().split("\n\n")[-1].split("data: ", 1)[1])
    plain = generate(client, cube_id, auth, PROMPT, activation_ids=ids, max_new_tokens=6)
    assert done["text"] == plain["text"]
    assert done["timings"]["recomputed_tokens"] == plain["timings"]["recomputed_tokens"] > 0


def test_a_stale_snapshot_is_composed_and_flagged(client: TestClient, auth: Auth, cube_id: str,
                                                  built: dict[str, Any], pair: list[dict[str, Any]]) -> None:  # noqa: F811
    bob = built["memories"][1]
    r = client.patch(f"/v1/memories/{bob['id']}", json={"content": "Bob plays the viola."}, headers=auth)
    assert r.status_code == 200, r.text
    out = generate(client, cube_id, auth, PROMPT, activation_ids=[a["id"] for a in pair], recompute_ratio=0.1)
    assert out["used"]["stale"] is True
    assert [a["stale"] for a in out["used"]["activations"]] == [False, True]


def _post(client: TestClient, cube_id: str, auth: Auth, **body: Any) -> Any:
    return client.post(f"/v1/cubes/{cube_id}/generate", json={"model": "tiny", "prompt": "hi", **body}, headers=auth)


def test_a_snapshot_of_another_model_is_a_409(client: TestClient, sessions: sessionmaker[Session], auth: Auth,
                                              cube_id: str, pair: list[dict[str, Any]]) -> None:
    with tenant_session(sessions, SYSTEM) as s:
        head = s.get(Memory, uuid.UUID(pair[1]["id"]))
        assert head is not None
        s.execute(update(Memory).where(Memory.id == head.id)
                  .values(meta={**head.meta, "model": "other", "fingerprint": "0" * 64}))
    r = _post(client, cube_id, auth, activation_ids=[a["id"] for a in pair])
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "fingerprint_mismatch"
    assert r.json()["detail"]["activation_id"] == pair[1]["id"]


def test_a_snapshot_not_built_yet_is_a_409(client: TestClient, auth: Auth, cube_id: str,
                                           pair: list[dict[str, Any]]) -> None:
    building = create(client, cube_id, auth, text="Carol keeps bees on her roof.")["activation"]["id"]
    r = _post(client, cube_id, auth, activation_ids=[pair[0]["id"], building])
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["state"] == "building"
    assert r.json()["detail"]["activation_id"] == building


def test_another_tenants_activations_are_a_404(client: TestClient, make_tenant: Any, auth: Auth, cube_id: str,
                                               pair: list[dict[str, Any]]) -> None:
    _, other = make_tenant("other")
    own = client.post("/v1/cubes", json={"name": "mine"}, headers=other).json()["id"]
    r = _post(client, own, other, activation_ids=[a["id"] for a in pair])
    assert r.status_code == 404, r.text
    r = _post(client, cube_id, auth, activation_ids=[pair[0]["id"], str(uuid.uuid4())])
    assert r.status_code == 404, r.text


def test_a_composition_over_the_token_limit_is_a_413(client: TestClient, settings: Settings, auth: Auth,
                                                     cube_id: str, pair: list[dict[str, Any]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "max_composed_tokens", pair[0]["tokens"] + pair[1]["tokens"] - 1)
    r = _post(client, cube_id, auth, activation_ids=[a["id"] for a in pair])
    assert r.status_code == 413, r.text
    assert "MEMOS_MAX_COMPOSED_TOKENS" in r.json()["detail"]


A, B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.mark.parametrize("body", [
    {"activation_id": A, "activation_ids": [A, B]},
    {"activation_ids": [A]},
    {"activation_ids": []},
    {"activation_ids": [A, A]},
    {"activation_ids": [str(uuid.uuid4()) for _ in range(MAX_COMPOSED_ACTIVATIONS + 1)]},
    {"activation_ids": [A, B], "recompute_ratio": 1.5},
    {"activation_ids": [A, B], "recompute_ratio": -0.1},
    {"activation_id": A, "recompute_ratio": 0.1},
    {"recompute_ratio": 0.1},
])
def test_bad_compositions_are_a_422(client: TestClient, auth: Auth, cube_id: str, body: dict[str, Any]) -> None:
    r = _post(client, cube_id, auth, **body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
