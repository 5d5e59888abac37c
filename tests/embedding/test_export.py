"""The ONNX export: made once, reused, never read half-written, refused for models it cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from memos.embedding import Embedder, default_model_path, onnx_export


def test_the_export_is_reused(embedder: Embedder) -> None:
    assert embedder.backend_name == "onnx"
    exports = [p for p in embedder.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(exports) >= 1
    again = onnx_export.exported_dir(embedder.model_name, embedder.cache_dir)
    assert again in exports
    meta = json.loads((again / onnx_export.META_FILE).read_text())
    assert meta["max_seq_length"] == 256
    assert meta["dim"] == 384


def _fake_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\0" * 1000)
    return model


def test_concurrent_first_uses_export_once_and_see_a_whole_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    started = threading.Event()

    def slow_export(model_dir: Path, out: Path) -> None:
        calls.append(1)
        started.set()
        (out / onnx_export.ONNX_FILE).write_bytes(b"graph")
        time.sleep(0.2)  # the other caller arrives while this one is writing
        (out / onnx_export.META_FILE).write_text("{}")

    monkeypatch.setattr(onnx_export, "_export", slow_export)
    model, cache = _fake_model(tmp_path), tmp_path / "cache"
    results: list[Path] = []

    def use() -> None:
        results.append(onnx_export.exported_dir(str(model), cache))

    first = threading.Thread(target=use)
    first.start()
    assert started.wait(5)
    # The directory only appears whole (atomic rename), so no reader sees the graph without its metadata.
    assert not any(p.name.startswith("onnx-") for p in cache.iterdir())
    second = threading.Thread(target=use)  # flock is per open file: a second open in a thread waits too
    second.start()
    first.join()
    second.join()
    assert len(calls) == 1
    assert results[0] == results[1]
    assert (results[0] / onnx_export.ONNX_FILE).read_bytes() == b"graph"


def test_a_failed_export_leaves_nothing_and_the_next_use_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model_dir: Path, out: Path) -> None:
        (out / onnx_export.ONNX_FILE).write_bytes(b"half")
        raise RuntimeError("disk full")

    model, cache = _fake_model(tmp_path), tmp_path / "cache"
    monkeypatch.setattr(onnx_export, "_export", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        onnx_export.exported_dir(str(model), cache)
    assert [p for p in cache.iterdir() if not p.name.endswith(".lock")] == []

    monkeypatch.setattr(onnx_export, "_export", lambda m, out: (out / onnx_export.META_FILE).write_text("{}"))
    assert (onnx_export.exported_dir(str(model), cache) / onnx_export.META_FILE).is_file()


def test_the_key_changes_with_the_weights(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    before = onnx_export.model_digest(model)
    (model / "README.md").write_text("docs do not count")
    assert onnx_export.model_digest(model) == before
    (model / "weights.bin").write_bytes(b"\1" * 1000)
    assert onnx_export.model_digest(model) != before


def test_a_model_the_onnx_backend_cannot_run_falls_back_to_torch(tmp_path: Path) -> None:
    model = tmp_path / "cls-pooled"
    model.mkdir()
    (model / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(onnx_export.UnsupportedModel, match="mean pooling"):
        onnx_export.exported_dir(str(model), tmp_path / "cache")
    with pytest.raises(onnx_export.UnsupportedModel, match="not a local model directory"):
        onnx_export.exported_dir("sentence-transformers/some-hub-name", tmp_path / "cache")


def test_the_packaged_model_is_a_local_directory() -> None:
    assert Path(default_model_path()).is_dir()


_RACER = """
import sys, time
from pathlib import Path
from memos.embedding import onnx_export

def slow_export(model_dir, out):
    with open(sys.argv[3], "a") as log:
        log.write("exported\\n")
    (out / onnx_export.ONNX_FILE).write_bytes(b"graph" * 1000)
    time.sleep(0.5)
    (out / onnx_export.META_FILE).write_text("{}")

onnx_export._export = slow_export
found = onnx_export.exported_dir(sys.argv[1], Path(sys.argv[2]))
print(found, len((found / onnx_export.ONNX_FILE).read_bytes()))
"""


def test_two_processes_starting_together_export_once(tmp_path: Path) -> None:
    model, cache, log = _fake_model(tmp_path), tmp_path / "cache", tmp_path / "exports.log"
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(model), str(cache), str(log)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1]  # the same directory, the whole graph in both
    assert outputs[0][1] == str(len(b"graph" * 1000))
    assert log.read_text() == "exported\n"
