"""Activation memory: KV-cache snapshots of a text, stored as content-addressed blobs and injected as the
prefix of a generation (docs/activation.md).

- ``models``: the model registry (``MEMOS_MODELS`` + the built-in ``tiny``), loading, fingerprints
- ``kv``: ``KVSnapshot``, prefill (and extension), safetensors (de)serialization, a fresh cache per request
- ``render``: the snapshot's text and the separator a prompt follows it with
- ``backend``: generation behind ``GenerationBackend`` (``TransformersBackend``: CPU or CUDA)
- ``cache``: snapshots in memory under a byte budget, loaded from the blob store on a miss

Modules import torch and transformers lazily, so importing this package is cheap.
"""
