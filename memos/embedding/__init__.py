"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, loaded once per process.

``MEMOS_EMBEDDING_BACKEND=onnx`` (default) runs a graph exported once from the model's own weights on ONNX Runtime
(``onnx_export``); ``torch`` runs sentence-transformers. Neither is imported until the model is first used: the SDK
and the CLI's fast paths never pay for torch.
"""

from memos.embedding.embedder import Embedder, auto_threads, default_model_path, get_embedder

__all__ = ["Embedder", "auto_threads", "default_model_path", "get_embedder"]
