"""KV snapshots: the attention keys and values of a token sequence, computed once and reused as a prefix.

A snapshot is immutable by contract: ``to_cache`` hands out a fresh ``DynamicCache`` that generation may
grow and crop, and the snapshot's own tensors never change. It carries the fingerprint of the model that
computed it; ``to_cache`` and ``prefill(past=...)`` refuse a snapshot made by any other model.

On disk a snapshot is one safetensors file (``serialize``): tensors ``{layer:04d}.k``/``{layer:04d}.v`` of
shape ``[1, kv_heads, tokens, head_dim]`` and ``token_ids`` (int64), plus one metadata entry ``memos.kv``
holding canonical JSON (format, model, fingerprint, dtype, n_tokens, n_layers). One entry rather than one per
field because safetensors writes its metadata map in hash order: with several keys the same snapshot would
get different bytes, hence a different content address, in each process.

Format ``memos.kv/2`` names the tensors so that safetensors (which lays data out by dtype, then by name)
stores them in layer order, each layer's keys then values: a reader that streams the file front to back
(``memos.activation.stream``) gets layer 0 first, and reads sequentially. ``memos.kv/1`` (``k.{layer}`` /
``v.{layer}``: every key before every value, layers in string order 0, 1, 10, 11, ..., 2) is still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memos.activation.errors import FingerprintMismatch, InvalidSnapshot
from memos.errors import InvalidInput

if TYPE_CHECKING:
    import torch
    from transformers import DynamicCache

    from memos.activation.models import LoadedModel
    from memos.activation.stream import StreamedSnapshot

FORMAT = "memos.kv/2"  # what serialize writes
FORMAT_V1 = "memos.kv/1"  # still read: blobs stored before layer-ordered names
METADATA_KEY = "memos.kv"


def tensor_names(fmt: str, layer: int) -> tuple[str, str]:
    """The names of layer ``layer``'s key and value tensors in a snapshot of format ``fmt``."""
    if fmt == FORMAT_V1:
        return f"k.{layer}", f"v.{layer}"
    return f"{layer:04d}.k", f"{layer:04d}.v"


@dataclass
class KVSnapshot:
    """Keys and values of ``token_ids``, per layer ``[1, kv_heads, T, head_dim]``, made by the model whose
    fingerprint it carries."""

    token_ids: list[int]
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    fingerprint: str = ""
    model: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # free-form extras (composition records its chunks here)

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def nbytes(self) -> int:
        """Bytes of the key and value tensors (what the snapshot costs in memory)."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    @property
    def n_layers(self) -> int:
        return len(self.keys)

    @property
    def dtype(self) -> str:
        return str(self.keys[0].dtype).removeprefix("torch.") if self.keys else ""

    @property
    def device(self) -> str:
        return str(self.keys[0].device) if self.keys else "cpu"

    def to(self, device: str | torch.device) -> KVSnapshot:
        """This snapshot on ``device`` (itself when already there): how the tier scheduler moves it."""
        if str(device) == self.device:
            return self
        return KVSnapshot(
            token_ids=list(self.token_ids),
            keys=[k.to(device) for k in self.keys],
            values=[v.to(device) for v in self.values],
            fingerprint=self.fingerprint,
            model=self.model,
            meta=dict(self.meta),
        )


def check_compatible(snap: KVSnapshot | StreamedSnapshot, lm: LoadedModel) -> None:
    """``FingerprintMismatch`` unless ``snap`` was computed by this very model (same weights, config and
    tokenizer, same dtype)."""
    if snap.fingerprint != lm.fingerprint:
        raise FingerprintMismatch(
            f"the snapshot was made by another model than {lm.name!r}",
            detail={
                "snapshot_fingerprint": snap.fingerprint,
                "model_fingerprint": lm.fingerprint,
                "snapshot_model": snap.model,
                "model": lm.name,
            },
        )
    if snap.n_layers != lm.n_layers:
        raise InvalidSnapshot(f"the snapshot has {snap.n_layers} layers, {lm.name!r} has {lm.n_layers}")


def to_cache(snap: KVSnapshot, lm: LoadedModel) -> DynamicCache:
    """A fresh ``DynamicCache`` holding ``snap`` on the model's device, for one request to grow or crop."""
    from transformers import DynamicCache

    check_compatible(snap, lm)
    device = lm.torch_device
    # DynamicCache's constructor concatenates each tensor onto an empty one, so the cache owns copies even
    # when the snapshot already lives on the device; tests check that generation leaves the snapshot as it was.
    data = [
        (k.to(device, non_blocking=True), v.to(device, non_blocking=True))
        for k, v in zip(snap.keys, snap.values, strict=True)
    ]
    return DynamicCache(ddp_cache_data=data, config=lm.model.config)


def from_cache(cache: DynamicCache, token_ids: list[int], lm: LoadedModel) -> KVSnapshot:
    """A snapshot of the first ``len(token_ids)`` positions held by ``cache`` (it may hold more: generation
    appends to it)."""
    import torch

    n = len(token_ids)
    keys, values = [], []
    for layer in cache.layers:
        k, v = getattr(layer, "keys", None), getattr(layer, "values", None)
        if not isinstance(k, torch.Tensor) or not isinstance(v, torch.Tensor):
            # linear-attention or shared layers keep no per-token keys and values to snapshot
            raise InvalidSnapshot(f"{lm.name!r} has cache layers without keys and values ({type(layer).__name__})")
        keys.append(k[..., :n, :])
        values.append(v[..., :n, :])
    return KVSnapshot(token_ids=list(token_ids), keys=keys, values=values, fingerprint=lm.fingerprint, model=lm.name)


def prefill(lm: LoadedModel, token_ids: list[int], past: KVSnapshot | None = None) -> KVSnapshot:
    """The snapshot of ``token_ids``; with ``past``, of ``past.token_ids + token_ids``, computing only the new
    tokens (they attend to the old ones through the cache, at the positions that follow them).

    Runs the model once over the new tokens, so call it outside any database transaction."""
    import torch

    if past is not None:
        check_compatible(past, lm)
    if not token_ids:
        if past is None:
            raise InvalidInput("nothing to prefill: no tokens")
        return past
    total = len(token_ids) + (past.n_tokens if past is not None else 0)
    if lm.max_positions and total > lm.max_positions:
        raise InvalidInput(f"{total} tokens exceed the {lm.max_positions} positions of model {lm.name!r}")
    from transformers import DynamicCache

    cache = to_cache(past, lm) if past is not None else DynamicCache(config=lm.model.config)
    ids = torch.tensor([token_ids], dtype=torch.long, device=lm.torch_device)
    with torch.no_grad():
        # logits_to_keep=1: the LM head over one position instead of all of them (vocab x tokens floats).
        lm.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    prefix = list(past.token_ids) if past is not None else []
    return from_cache(cache, prefix + list(token_ids), lm)


def serialize(snap: KVSnapshot, *, model: str, fingerprint: str) -> bytes:
    """The snapshot as safetensors bytes (CPU tensors); equal snapshots give equal bytes."""
    import torch
    from safetensors.torch import save

    if not snap.keys or len(snap.keys) != len(snap.values):
        raise InvalidSnapshot("a snapshot needs keys and values for every layer")
    tensors: dict[str, torch.Tensor] = {"token_ids": torch.tensor(snap.token_ids, dtype=torch.int64)}
    for i, (k, v) in enumerate(zip(snap.keys, snap.values, strict=True)):
        k_name, v_name = tensor_names(FORMAT, i)
        tensors[k_name] = k.detach().to("cpu").contiguous()
        tensors[v_name] = v.detach().to("cpu").contiguous()
    meta = {
        "format": FORMAT,
        "model": model,
        "fingerprint": fingerprint,
        "dtype": snap.dtype,
        "n_tokens": snap.n_tokens,
        "n_layers": len(snap.keys),
    }
    if snap.meta:
        meta["extra"] = snap.meta
    return bytes(save(tensors, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True, separators=(",", ":"))}))


def deserialize(data: bytes) -> tuple[KVSnapshot, dict[str, str]]:
    """``serialize``'s inverse: the snapshot (on the CPU, carrying its fingerprint and model name) and the
    metadata, values as strings. ``InvalidSnapshot`` for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
        header = _header_metadata(data)
    except (SafetensorError, ValueError) as exc:
        raise InvalidSnapshot(f"not a safetensors file: {exc}") from exc
    return _assemble(tensors, header)


def deserialize_file(path: str) -> tuple[KVSnapshot, dict[str, str]]:
    """``deserialize`` of a file, memory-mapped rather than read into a bytes object first."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is no mapping)
    except (SafetensorError, ValueError) as exc:
        raise InvalidSnapshot(f"not a safetensors file: {exc}") from exc
    return _assemble(tensors, header)


def _header_metadata(data: bytes) -> dict[str, str]:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    return dict(header.get("__metadata__") or {})


@dataclass(frozen=True)
class Header:
    """What a snapshot file's ``memos.kv`` metadata says."""

    format: str
    n_layers: int
    n_tokens: int
    fingerprint: str
    model: str
    extra: dict[str, Any]
    flat: dict[str, str]  # every field, values as strings

    def names(self, layer: int) -> tuple[str, str]:
        return tensor_names(self.format, layer)


def parse_header(header: dict[str, str]) -> Header:
    """The ``memos.kv`` metadata of a safetensors header map; ``InvalidSnapshot`` unless it is a snapshot's
    in a format this version reads."""
    try:
        meta = json.loads(header[METADATA_KEY])
    except (KeyError, json.JSONDecodeError) as exc:
        raise InvalidSnapshot("no memos.kv metadata: not a KV snapshot") from exc
    if meta.get("format") not in (FORMAT, FORMAT_V1):
        raise InvalidSnapshot(f"unknown snapshot format {meta.get('format')!r}, expected {FORMAT}")
    try:
        n_layers, n_tokens = int(meta["n_layers"]), int(meta["n_tokens"])
        fingerprint, model = str(meta["fingerprint"]), str(meta["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidSnapshot(f"incomplete snapshot metadata: {exc!r}") from exc
    if n_layers < 1:
        raise InvalidSnapshot("a snapshot has at least one layer")
    flat = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in meta.items()}
    return Header(str(meta["format"]), n_layers, n_tokens, fingerprint, model, dict(meta.get("extra") or {}), flat)


def _assemble(tensors: dict[str, torch.Tensor], header: dict[str, str]) -> tuple[KVSnapshot, dict[str, str]]:
    h = parse_header(header)
    try:
        names = [h.names(i) for i in range(h.n_layers)]
        keys = [tensors[k] for k, _ in names]
        values = [tensors[v] for _, v in names]
        token_ids = [int(t) for t in tensors["token_ids"].tolist()]
    except KeyError as exc:
        raise InvalidSnapshot(f"the snapshot lacks tensor {exc}") from exc
    shapes = {tuple(t.shape) for t in (*keys, *values)}
    if len(token_ids) != h.n_tokens or any(len(s) != 4 or s[2] != h.n_tokens for s in shapes):
        raise InvalidSnapshot(f"inconsistent snapshot: {h.n_tokens} tokens, tensor shapes {sorted(shapes)}")
    snap = KVSnapshot(
        token_ids=token_ids, keys=keys, values=values, fingerprint=h.fingerprint, model=h.model, meta=h.extra
    )
    return snap, h.flat
