"""Parametric memory fixtures: the session's tiny model (tests/activation), this test's blob store, the
adapter pool and batcher on it, and real PEFT adapters written by ``save_pretrained``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from api.state import AppState
from memcube.blobs import BlobStore
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.models import LoadedModel, ModelRegistry
from memos.activation.runtime import ActivationRuntime
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.parametric import lora
from memos.parametric.pool import shared_copy
from memos.parametric.runtime import ParametricRuntime
from tests.activation.conftest import backend, registry, tiny  # noqa: F401  (session fixtures: the tiny model, once)


@pytest.fixture
def runtime(settings: Settings, registry: ModelRegistry) -> ActivationRuntime:  # noqa: F811
    blobs = BlobStore(settings.home / "blobs")
    return ActivationRuntime(settings=settings, registry=registry, backend=TransformersBackend(), blobs=blobs,
                             cache=SnapshotCache(blobs, max_bytes=64 * 1024 * 1024))


@pytest.fixture
def parametric(runtime: ActivationRuntime) -> ParametricRuntime:
    return ParametricRuntime.over(runtime)


@pytest.fixture
def app_state(app_state: AppState, runtime: ActivationRuntime, parametric: ParametricRuntime) -> AppState:
    app_state._activation = runtime
    app_state._parametric = parametric
    return app_state


@pytest.fixture
def ctx(settings: Settings, embedder: Embedder, runtime: ActivationRuntime) -> JobContext:
    return JobContext(settings=settings, embedder=embedder, resources={"activation": runtime})


def peft_adapter(lm: LoadedModel, directory: Path, *, seed: int, r: int = 4,
                 targets: Sequence[str] = ("q_proj", "v_proj")) -> tuple[bytes, bytes]:
    """(adapter_config.json, adapter_model.safetensors) exactly as PEFT's save_pretrained writes them, with
    random A and B (``init_lora_weights=False``) so that two seeds are two clearly different adapters."""
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets), init_lora_weights=False,
                        task_type="CAUSAL_LM")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_peft_model(shared_copy(lm.model), config)  # type: ignore[arg-type]
    out = directory / f"adapter-{seed}-{r}"
    model.save_pretrained(str(out))
    return (out / "adapter_config.json").read_bytes(), (out / "adapter_model.safetensors").read_bytes()


@pytest.fixture
def adapter_files(tiny: LoadedModel, tmp_path: Path) -> dict[int, tuple[bytes, bytes]]:  # noqa: F811
    """Two PEFT adapters for the tiny model (seeds 1 and 2)."""
    return {seed: peft_adapter(tiny, tmp_path, seed=seed) for seed in (1, 2)}


Stored = tuple[str, dict[str, object], int]  # sha256, config, bytes when loaded


def store_adapters(lm: LoadedModel, directory: Path, blobs: BlobStore, seeds: Sequence[int]) -> list[Stored]:
    """PEFT adapters of these seeds in the blob store, read and checked as the API does."""
    out: list[Stored] = []
    for seed in seeds:
        config, weights = peft_adapter(lm, directory, seed=seed)
        parsed = lora.read(config, weights)
        lora.check_against(parsed, lm.model, lm.name)
        sha, _ = blobs.put(weights)
        out.append((sha, json.loads(config), lora.nbytes(parsed.tensors)))
    return out
