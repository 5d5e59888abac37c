"""The two ways to run the encoder: ONNX Runtime on an exported graph (default) and sentence-transformers on torch.

Both return float32 rows, L2-normalized, one forward pass for the texts they are given (``Embedder`` chunks).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from memos.embedding import onnx_export

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Backend(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class TorchBackend:
    """sentence-transformers on torch (CPU)."""

    name = "torch"

    def __init__(self, model: str, *, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        self._torch = torch
        self.threads = threads
        torch.set_num_threads(threads)
        self.model: SentenceTransformer = SentenceTransformer(model, device="cpu")
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        self.dim = int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        # torch's intra-op thread count is process-wide in the builds we ship (a thread started later inherits
        # it), but another part of the process may have changed it since (activation models set theirs).
        if self._torch.get_num_threads() != self.threads:
            self._torch.set_num_threads(self.threads)
        vectors: Any = self.model.encode(texts, batch_size=max(1, len(texts)), normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class OnnxBackend:
    """ONNX Runtime on the graph ``onnx_export`` made from the same weights, with the model's fast tokenizer.

    One ``InferenceSession.run`` per batch releases the GIL for the whole forward pass; torch re-takes it between
    operators, which is what made the encoder slower inside a busy server (see ``Embedder``).
    """

    name = "onnx"

    def __init__(self, export_dir: Path, *, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / onnx_export.META_FILE).read_text())
        self.dim = int(meta["dim"])
        self._inputs: list[str] = list(meta["inputs"])
        self._lowercase = bool(meta["lowercase"])
        self.tokenizer = Tokenizer.from_file(str(export_dir / onnx_export.TOKENIZER_FILE))
        # Same cut as sentence-transformers' max_seq_length; pad to the longest text of the batch only.
        self.tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Pool threads that spin between batches take a core from PostgreSQL and the request threads, the
        # same reason MEMOS_EMBEDDING_THREADS defaults to half the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(export_dir / onnx_export.ONNX_FILE), options,
                                            providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._lowercase:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
        out = self.session.run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)
