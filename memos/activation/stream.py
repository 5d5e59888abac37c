"""A snapshot read from its blob layer by layer while the prompt's prefill runs (layer-wise pipelining).

A cold snapshot (not in the ``SnapshotCache``) used to be read whole before the prompt's prefill started, so
a request waited for the disk, then for the model. LMCache overlaps the two (its layer-wise KV loading): the
prompt's attention at layer ``i`` needs the cached keys and values of layer ``i`` only, so while the model
runs layer ``i`` the reader can already fetch layer ``i + 1``. Here:

- ``StreamedSnapshot`` reads the safetensors header and the token ids at once (what the prefill needs to
  set positions and masks), then a background thread reads each layer's key and value tensors in layer
  order straight into their tensors (plain ``readinto`` at the offsets the header gives; file reads release
  the GIL, so they run beside the model's forward on another core). ``layer(i)`` waits for layer ``i``.
  In format ``memos.kv/2`` the layers lie in that order in the file, so the reads are sequential.
- ``streamed_cache`` is a ``DynamicCache`` whose layers are ``_StreamedLayer``: they report the snapshot's
  length before they hold anything (positions and the causal mask are computed before layer 0 runs), and
  ``update`` first waits for that layer's tensors. The tensors read are the bytes ``serialize`` wrote, so
  the logits are the same, bit for bit, as with the whole snapshot loaded first (tested).

The tensors read are shared with the finished ``KVSnapshot`` (which the ``SnapshotCache`` then holds for
later requests) and never written: ``DynamicLayer.update`` concatenates into a new tensor, ``crop`` slices.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memos.activation.errors import InvalidSnapshot
from memos.activation.kv import Header, KVSnapshot, check_compatible, parse_header, to_cache

if TYPE_CHECKING:
    import torch
    from transformers import DynamicCache

    from memos.activation.models import LoadedModel

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_HEAD_READ = 64 * 1024  # the first read of a file: the header and the token ids of up to ~7,000 tokens


@dataclass(frozen=True)
class _Span:
    """One tensor's place in the file: absolute byte range, dtype name, shape."""

    start: int
    end: int
    dtype: str
    shape: tuple[int, ...]


def _torch_dtype(name: str) -> torch.dtype:
    import torch

    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
              "I64": torch.int64}
    try:
        return dtypes[name]
    except KeyError:
        raise InvalidSnapshot(f"unsupported tensor dtype {name!r} in a snapshot") from None


class StreamedSnapshot:
    """A snapshot being read from ``path`` in the background, layer by layer.

    Known from the start: ``token_ids``, ``n_tokens``, ``n_layers``, ``fingerprint``, ``model``, ``meta``.
    ``layer(i)`` waits for layer ``i``'s keys and values; ``snapshot()`` for the whole ``KVSnapshot``. Errors
    of the background read (a truncated file) are raised to whoever waits. Construct, then ``start()``;
    ``on_done`` is called once from the reader thread with the snapshot, or ``None`` if reading failed."""

    def __init__(
        self,
        path: str,
        *,
        device: str = "cpu",
        on_done: Callable[[KVSnapshot | None], None] | None = None,
    ) -> None:
        self.path = path
        self.device = device
        self._on_done = on_done
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            # One read for the header and, usually, the token ids right after it (safetensors puts the int64
            # ids first): a cold file costs one trip to the disk here, not three.
            head = f.read(min(size, _HEAD_READ))
            self._header, self._spans, self._data_start = self._read_header(f, head, size)
            self.token_ids = self._read_token_ids(f, head)
        h = self._header
        self.n_tokens, self.n_layers = h.n_tokens, h.n_layers
        self.fingerprint, self.model, self.meta = h.fingerprint, h.model, h.extra
        self.nbytes = sum(s.end - s.start for name, s in self._spans.items() if name != "token_ids")
        self._layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._error: BaseException | None = None
        self._done = False
        self._cond = threading.Condition()
        self._snapshot: KVSnapshot | None = None

    @property
    def header(self) -> Header:
        return self._header

    def start(self) -> StreamedSnapshot:
        """Start the background read (a daemon thread: a process exiting mid-read does not wait for it)."""
        threading.Thread(target=self._run, name=f"kv-read-{os.path.basename(self.path)[:12]}", daemon=True).start()
        return self

    def layer(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer ``i``'s keys and values ``[1, kv_heads, n_tokens, head_dim]``, once read."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._layers) > i or self._error is not None or self._done)
            if len(self._layers) > i:
                return self._layers[i]
            raise self._failure()

    def snapshot(self) -> KVSnapshot:
        """The whole snapshot, once every layer is read."""
        with self._cond:
            self._cond.wait_for(lambda: self._done)
            if self._snapshot is None:
                raise self._failure()
            return self._snapshot

    def _failure(self) -> InvalidSnapshot:
        return InvalidSnapshot(f"could not read the snapshot: {self._error!r}")

    # -- reading ---------------------------------------------------------------------------------------

    def _read_header(self, f: Any, head: bytes, size: int) -> tuple[Header, dict[str, _Span], int]:
        if len(head) < 8:
            raise InvalidSnapshot("not a safetensors file: too short")
        n = int.from_bytes(head[:8], "little")
        if n > min(_MAX_HEADER, size - 8):
            raise InvalidSnapshot("not a safetensors file: bad header length")
        raw = head[8 : 8 + n]
        if len(raw) < n:  # a header longer than the first read
            f.seek(8 + len(raw))
            raw += f.read(n - len(raw))
        try:
            table = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidSnapshot(f"not a safetensors file: {exc}") from exc
        if not isinstance(table, dict):
            raise InvalidSnapshot("not a safetensors file: the header is no JSON object")
        header = parse_header(dict(table.pop("__metadata__", None) or {}))
        data_start = 8 + n
        spans: dict[str, _Span] = {}
        wanted = ["token_ids", *(name for i in range(header.n_layers) for name in header.names(i))]
        for name in wanted:
            entry = table.get(name)
            if not isinstance(entry, dict):
                raise InvalidSnapshot(f"the snapshot lacks tensor {name!r}")
            try:
                lo, hi = (int(x) for x in entry["data_offsets"])
                shape = tuple(int(x) for x in entry["shape"])
                dtype = str(entry["dtype"])
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidSnapshot(f"bad header entry for {name!r}: {exc!r}") from exc
            itemsize = _torch_dtype(dtype).itemsize
            numel = 1
            for d in shape:
                numel *= d
            if lo < 0 or hi - lo != numel * itemsize or data_start + hi > size:
                raise InvalidSnapshot(f"tensor {name!r} does not fit the file")
            if name != "token_ids" and (len(shape) != 4 or shape[2] != header.n_tokens):
                raise InvalidSnapshot(f"inconsistent snapshot: {header.n_tokens} tokens, {name} has shape {shape}")
            spans[name] = _Span(data_start + lo, data_start + hi, dtype, shape)
        if spans["token_ids"].dtype != "I64" or spans["token_ids"].shape != (header.n_tokens,):
            raise InvalidSnapshot(f"inconsistent snapshot: {header.n_tokens} tokens, token_ids {spans['token_ids']}")
        return header, spans, data_start

    def _read_token_ids(self, f: Any, head: bytes) -> list[int]:
        import torch

        span = self._spans["token_ids"]
        if span.end > len(head):  # more ids than the first read held
            return [int(t) for t in self._read(f, span).tolist()]
        raw = bytearray(head[span.start : span.end])
        return [int(t) for t in torch.frombuffer(raw, dtype=torch.int64).tolist()] if raw else []

    @staticmethod
    def _read(f: Any, span: _Span) -> torch.Tensor:
        """The tensor at ``span``, read into its own buffer (no memory map: the bytes are copied once).

        One read per tensor: a layer's keys and values read with one call into one buffer were not faster."""
        import torch

        buf = torch.empty(span.end - span.start, dtype=torch.uint8)
        view = buf.numpy().data.cast("B")
        f.seek(span.start)
        got = 0
        while got < len(view):
            n = f.readinto(view[got:])
            if not n:
                raise InvalidSnapshot(f"the snapshot file ends early ({got} of {len(view)} bytes of a tensor)")
            got += n
        return buf.view(_torch_dtype(span.dtype)).reshape(span.shape)

    def _run(self) -> None:
        snap: KVSnapshot | None = None
        try:
            with open(self.path, "rb", buffering=0) as f:
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger kernel read-ahead
                for i in range(self.n_layers):
                    k_name, v_name = self._header.names(i)
                    k, v = self._read(f, self._spans[k_name]), self._read(f, self._spans[v_name])
                    if self.device != "cpu":
                        k, v = k.to(self.device), v.to(self.device)
                    with self._cond:
                        self._layers.append((k, v))
                        self._cond.notify_all()
            snap = KVSnapshot(
                token_ids=list(self.token_ids),
                keys=[k for k, _ in self._layers],
                values=[v for _, v in self._layers],
                fingerprint=self.fingerprint,
                model=self.model,
                meta=dict(self.meta),
            )
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting request, never lost in the thread)
            with self._cond:
                self._error = exc
        finally:
            with self._cond:
                self._snapshot, self._done = snap, True
                self._cond.notify_all()
            if self._on_done is not None:
                self._on_done(snap)


def streamed_cache(stream: StreamedSnapshot, lm: LoadedModel) -> DynamicCache:
    """A ``DynamicCache`` for one request, holding ``stream``'s layers as they arrive: layer ``i`` waits for
    its keys and values when the model first updates it. Models whose cache has other layer kinds than
    ``DynamicLayer`` (sliding windows, linear attention) get the whole snapshot first (``to_cache``)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    check_compatible(stream, lm)
    cache = DynamicCache(config=lm.model.config)
    if len(cache.layers) != stream.n_layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return to_cache(stream.snapshot(), lm)
    layer = _layer_class()
    cache.layers = [layer(stream, i, lm.torch_device) for i in range(stream.n_layers)]
    return cache


@functools.cache
def _layer_class() -> type:
    """``_StreamedLayer``, defined on first use so that importing this module does not import transformers."""
    from transformers.cache_utils import DynamicLayer

    class _StreamedLayer(DynamicLayer):
        """A ``DynamicLayer`` that takes its first keys and values from a ``StreamedSnapshot`` on first use."""

        def __init__(self, stream: StreamedSnapshot, index: int, device: torch.device) -> None:
            super().__init__()
            self._stream: StreamedSnapshot | None = stream
            self._index = index
            self._n = stream.n_tokens
            self._target = device

        def _fill(self) -> None:
            stream, self._stream = self._stream, None
            assert stream is not None
            k, v = stream.layer(self._index)
            # On the CPU these are the snapshot's own tensors: update() concatenates into new ones, crop()
            # slices, nothing writes into them.
            self.keys, self.values = k.to(self._target), v.to(self._target)
            self.dtype, self.device = self.keys.dtype, self.keys.device
            self.is_initialized = True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            if self._stream is not None:
                self._fill()
            return super().update(key_states, value_states, *args, **kwargs)

        def get_seq_length(self) -> int:
            if self._stream is not None:
                return self._n  # positions and the mask are computed before layer 0 runs: no waiting for them
            return int(super().get_seq_length())

        def crop(self, tokens_to_remove: int) -> None:
            if self._stream is not None:
                self._fill()
            super().crop(tokens_to_remove)

    return _StreamedLayer
