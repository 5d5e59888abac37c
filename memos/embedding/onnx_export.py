"""Export a sentence-transformers model to ONNX once, from its local weights, and reuse the file.

``optimum`` cannot be installed beside transformers 5 (docs/operations.md), so the export is ours: the model's
transformer with mean pooling and L2 normalisation inside the graph, traced by ``torch.onnx.export``, and the fast
tokenizer saved beside it with the truncation the model uses (``max_seq_length``).

The files go in a directory named after a hash of the model directory's files (weights, configs, tokenizer), so a
changed model never reads a stale graph. The directory appears by an atomic rename after every file in it is
written, under a lock file: a second process waits for the first export instead of reading half a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("memos.embedding")

#: Bumped when the graph or the files beside it change meaning; part of the cache key.
EXPORT_FORMAT = 1
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
_OPSET = 17
_SKIPPED = {"README.md"}


class UnsupportedModel(Exception):
    """The model cannot run on the ONNX backend (not a local directory, or not Transformer + mean pooling)."""


def model_digest(model_dir: Path) -> str:
    """SHA-256 over the model directory's files (names and contents), without docs and dot-files."""
    h = hashlib.sha256(f"memos-onnx-{EXPORT_FORMAT}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir)
        if rel.name in _SKIPPED or any(part.startswith(".") for part in rel.parts):
            continue
        h.update(str(rel).encode() + b"\0")
        with path.open("rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def exported_dir(model: str, cache_root: Path) -> Path:
    """The directory holding the model's ONNX export (exported now when it is not there yet)."""
    model_dir = Path(model)
    if not model_dir.is_dir():
        raise UnsupportedModel(f"{model!r} is not a local model directory")
    cache_root.mkdir(parents=True, exist_ok=True)
    name = f"onnx-{model_digest(model_dir)[:24]}"
    final = cache_root / name
    if (final / META_FILE).is_file():
        return final
    with _locked(cache_root / f".{name}.lock"):
        if (final / META_FILE).is_file():  # another process exported it while we waited
            return final
        for stale in cache_root.glob(f".{name}.tmp-*"):  # a crashed export's leftovers (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_root))
        try:
            started = time.perf_counter()
            _export(model_dir, tmp)
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide the export from other users of a shared cache
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _fsync_dir(cache_root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("exported %s to ONNX in %.1f s: %s", model, time.perf_counter() - started, final)
    return final


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    """Flush the directory's files and the directory itself (the rename must not land before the data)."""
    for p in [*(f for f in path.iterdir() if f.is_file()), path]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_layout(model_dir: Path) -> tuple[Path, dict[str, Any]]:
    """(the transformer's directory, its sentence_bert_config) when the sentence-transformers model is
    Transformer + mean Pooling (+ Normalize); read from the model's files, without importing the library
    (``import sentence_transformers`` alone takes 4-10 s here)."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedModel("no modules.json: not a sentence-transformers model directory")
    modules = json.loads(modules_file.read_text())
    names = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
        raise UnsupportedModel(f"modules {names}: the ONNX backend runs Transformer + Pooling (+ Normalize)")
    pooling = json.loads((model_dir / modules[1].get("path", "") / "config.json").read_text())
    mode = pooling.get("pooling_mode") or ("mean" if pooling.get("pooling_mode_mean_tokens") else None)
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    if mode != "mean" or others or pooling.get("include_prompt") is False:
        raise UnsupportedModel(f"pooling {pooling}: the ONNX backend runs mean pooling")
    transformer_dir = model_dir / modules[0].get("path", "")
    config_file = transformer_dir / "sentence_bert_config.json"
    return transformer_dir, json.loads(config_file.read_text()) if config_file.is_file() else {}


def _export(model_dir: Path, out: Path) -> None:
    transformer_dir, sbert = _read_layout(model_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(transformer_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(transformer_dir))
    if not getattr(tokenizer, "is_fast", False):
        raise UnsupportedModel("the ONNX backend needs a fast (Rust) tokenizer")
    inputs = [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise UnsupportedModel(f"tokenizer inputs {tokenizer.model_input_names}")
    # sentence-transformers' max_seq_length: its config's, else the tokenizer's limit capped by the positions.
    max_len = sbert.get("max_seq_length") or min(
        int(tokenizer.model_max_length), int(getattr(model.config, "max_position_embeddings", 512)))

    class Pooled(torch.nn.Module):
        """Transformer -> mean over the attention mask -> L2 normalisation (what the SentenceTransformer does)."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(inputs, args, strict=True))
            hidden = self.model(**kwargs).last_hidden_state
            mask = kwargs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    wrapped = Pooled(model).eval()
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in inputs)
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter: the dynamo one needs onnxscript. The tracer warns about branches on shapes
        # that are the same for every input of this graph; the check below and the tests compare outputs.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, example, str(out / ONNX_FILE), input_names=inputs, output_names=["embedding"],
                          dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=_OPSET, dynamo=False)
    tokenizer.backend_tokenizer.save(str(out / TOKENIZER_FILE))
    meta = {
        "format": EXPORT_FORMAT,
        "source": str(model_dir),
        "inputs": inputs,
        "dim": int(model.config.hidden_size),
        "max_seq_length": int(max_len),
        "lowercase": bool(sbert.get("do_lower_case", False)),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1))

    # The graph must give the traced model's vectors on a padded batch of another shape than the example.
    from memos.embedding.backends import OnnxBackend

    probe = ["A short one.", "A longer sentence, with punctuation and more word pieces than the first."]
    batch = tokenizer(probe, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    with torch.no_grad():
        expected = wrapped(*(batch[name] for name in inputs)).numpy()
    got = OnnxBackend(out, threads=1).encode(probe)
    agreement = float(np.min(np.sum(expected * got, axis=1)))
    if agreement < 0.9999:
        raise UnsupportedModel(f"the exported graph disagrees with the model (cosine {agreement:.6f})")
