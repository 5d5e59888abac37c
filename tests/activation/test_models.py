"""The model registry and fingerprints."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from memos.activation import models as models_module
from memos.activation.errors import ModelUnavailable, UnknownModel
from memos.activation.models import TINY, LoadedModel, ModelRegistry, ModelSpec, fingerprint
from memos.config import Settings


def test_the_tiny_fingerprint_is_the_same_in_another_process(tiny: LoadedModel) -> None:
    code = "from memos.activation.models import build_tiny; print(build_tiny().fingerprint)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == tiny.fingerprint
    assert len(tiny.fingerprint) == 64


def test_the_global_random_state_neither_changes_nor_is_changed_by_the_tiny_model() -> None:
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    a = models_module.build_tiny()
    after = torch.rand(3)
    torch.manual_seed(2)
    b = models_module.build_tiny()
    assert torch.equal(after, expected)
    assert a.fingerprint == b.fingerprint


def test_other_weights_give_another_fingerprint(tiny: LoadedModel) -> None:
    other = copy.deepcopy(tiny.model)
    with torch.no_grad():
        other.model.layers[2].mlp.up_proj.weight[0, 0] += 1e-3
    assert fingerprint(other, tiny.tokenizer) != tiny.fingerprint
    assert fingerprint(tiny.model, tiny.tokenizer) == tiny.fingerprint


def test_another_dtype_gives_another_fingerprint(tiny: LoadedModel) -> None:
    half = copy.deepcopy(tiny.model).bfloat16()
    assert fingerprint(half, tiny.tokenizer) != tiny.fingerprint


def test_a_saved_copy_loads_from_a_directory_with_the_same_fingerprint(tiny: LoadedModel, tmp_path: Path) -> None:
    tiny.model.save_pretrained(tmp_path / "copy")
    tiny.tokenizer.save_pretrained(tmp_path / "copy")
    registry = ModelRegistry(Settings(models={"copy": str(tmp_path / "copy")}, activation_device="cpu"))
    copied = registry.load("copy")
    assert copied.fingerprint == tiny.fingerprint  # the fingerprint is about content, not where it came from
    assert copied.encode("hello world") == tiny.encode("hello world")
    assert (copied.dtype, copied.device) == ("float32", "cpu")


def test_the_registry_lists_tiny_and_configured_models() -> None:
    registry = ModelRegistry(Settings(models={"smol": "/models/smol.gguf"}))
    assert registry.specs() == [ModelSpec(TINY, "builtin:tiny"), ModelSpec("smol", "/models/smol.gguf")]
    with pytest.raises(ValueError, match="built-in"):
        ModelRegistry(Settings(models={"tiny": "/elsewhere"}))


def test_models_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMOS_MODELS", json.dumps({"smol": "/m/smol.gguf"}))
    assert [s.name for s in ModelRegistry(Settings()).specs()] == [TINY, "smol"]


def test_an_unknown_model_is_a_404(registry: ModelRegistry) -> None:
    with pytest.raises(UnknownModel) as raised:
        registry.load("gpt-17")
    assert raised.value.status_code == 404
    assert raised.value.detail == {"models": [TINY]}


def test_a_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(models={"gone": str(tmp_path / "gone.gguf")}, activation_device="cpu"))
    with pytest.raises(ModelUnavailable):
        registry.load("gone")


def test_loads_are_cached_shared_between_threads_and_bounded(
    monkeypatch: pytest.MonkeyPatch, tiny: LoadedModel
) -> None:
    calls: list[str] = []
    gate = threading.Event()

    def fake_load(spec: ModelSpec, device: str) -> LoadedModel:
        calls.append(spec.name)
        gate.wait(5)  # hold the first load so the other threads arrive while it runs
        return LoadedModel(spec.name, tiny.model, tiny.tokenizer, tiny.fingerprint, tiny.dtype, device)

    monkeypatch.setattr(models_module, "load_model", fake_load)
    registry = ModelRegistry(Settings(models={"a": "/a", "b": "/b"}, activation_device="cpu", max_loaded_models=2))
    results: list[LoadedModel] = []
    threads = [threading.Thread(target=lambda: results.append(registry.load("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["a"]
    assert all(r is results[0] for r in results)

    registry.load("b")
    registry.load("a")  # a is now the most recently used
    registry.load(TINY)  # over the bound of 2: b goes
    assert registry.loaded() == ["a", TINY]
    assert calls == ["a", "b", TINY]
