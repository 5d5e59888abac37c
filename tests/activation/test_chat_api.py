"""Through the API, a model with a chat template: the snapshot is the system turn holding the activation's
text, the prompt the user turn and the assistant's opening; the same as the whole conversation rendered by
the template and sent as one prompt (the tiny model, given ChatML for the test)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.blobs import BlobStore
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.models import LoadedModel, ModelRegistry
from memos.activation.render import JOIN_CHAT
from memos.activation.runtime import ActivationRuntime
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from tests.api.helpers import add

from .test_api import Auth, activation, create, generate, run
from .test_exactness import CHATML

PROMPT = "Where does Alice live?"


@pytest.fixture(scope="module")
def chat_dir(tiny: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model saved with ChatML as its chat template (a directory, as MEMOS_MODELS names one)."""
    path = tmp_path_factory.mktemp("tinychat")
    tiny.model.save_pretrained(path)
    tokenizer = copy.deepcopy(tiny.tokenizer)
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def runtime(settings: Settings, chat_dir: Path) -> ActivationRuntime:
    registry = ModelRegistry(settings.model_copy(update={"models": {"tinychat": str(chat_dir)}}))
    blobs = BlobStore(settings.home / "blobs")
    return ActivationRuntime(settings=settings, registry=registry, backend=TransformersBackend(), blobs=blobs,
                             cache=SnapshotCache(blobs, max_bytes=64 * 1024 * 1024))


@pytest.fixture
def app_state(app_state: AppState, runtime: ActivationRuntime) -> AppState:
    app_state._activation = runtime
    return app_state


@pytest.fixture
def ctx(settings: Settings, embedder: Embedder, runtime: ActivationRuntime) -> JobContext:
    return JobContext(settings=settings, embedder=embedder, resources={"activation": runtime})


def build(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
          model: str) -> dict[str, Any]:
    memories = add(client, cube_id, auth, "Alice moved to Lyon in May.", "Bob plays the cello every Sunday.")
    accepted = create(client, cube_id, auth, memory_ids=[m["id"] for m in memories], model=model)
    run(sessions, ctx, accepted["job_id"])
    return activation(client, auth, accepted["activation"]["id"])


def test_under_a_chat_template_the_snapshot_is_the_system_turn_and_exact(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    runtime: ActivationRuntime,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "tinychat")
    text = client.get(f"/v1/memories/{act['id']}", headers=auth).json()["content"]
    system_turn = f"<|im_start|>system\n{text}<|im_end|>\n"
    user_turn = f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"
    lm = runtime.registry.load("tinychat")
    assert act["tokens"] == len(lm.encode(system_turn))
    snap = runtime.cache.get(act["blob_sha256"])
    assert snap.meta == {"join": JOIN_CHAT}
    assert snap.token_ids == lm.encode(system_turn)

    with_snapshot = generate(client, cube_id, auth, PROMPT, model="tinychat", activation_id=act["id"],
                             max_new_tokens=12)
    # the reference: the whole conversation rendered by the template, sent as the prompt (no snapshot)
    whole = generate(client, cube_id, auth, system_turn + user_turn, model="tinychat", max_new_tokens=12)
    assert with_snapshot["text"] == whole["text"]
    timings = with_snapshot["timings"]
    assert (timings["cached_tokens"], timings["prefill_tokens"]) == (act["tokens"], len(lm.encode(user_turn)))
    assert timings["cached_tokens"] + timings["prefill_tokens"] == whole["timings"]["prefill_tokens"]


def test_without_a_chat_template_the_prompt_follows_after_a_space(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    runtime: ActivationRuntime,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "tiny")
    text = client.get(f"/v1/memories/{act['id']}", headers=auth).json()["content"]
    assert runtime.cache.get(act["blob_sha256"]).meta == {}  # no join recorded: the space, as before
    with_snapshot = generate(client, cube_id, auth, PROMPT, activation_id=act["id"], max_new_tokens=12)
    assert with_snapshot["text"] == generate(client, cube_id, auth, f"{text} {PROMPT}", max_new_tokens=12)["text"]


def test_activations_rendered_differently_do_not_compose(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str
) -> None:
    chat = build(client, sessions, ctx, auth, cube_id, "tinychat")
    plain = build(client, sessions, ctx, auth, cube_id, "tiny")  # same fingerprint, no template
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                    json={"model": "tinychat", "prompt": PROMPT, "activation_ids": [chat["id"], plain["id"]]})
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["joins"] == ["chat", "space"]
