"""LoRA adapters loaded into a serving copy of each model, on demand, under a count and a byte budget.

``ServingModel``: a copy of a loaded model's modules that *shares* every base weight tensor (no second copy
of the weights) and carries the LoRA layers, wrapped in a ``PeftModel``. The registry's model itself is
never touched, so plain and activation generation stay exactly as they were. PEFT picks each row's adapter
through forward hooks registered on the modules (``adapter_names``), which are not per thread: every
forward of a serving model, and every load into it, holds its lock.

``AdapterPool``: adapters by the sha256 of their weights (content-addressed: two versions with the same
weights are one entry, and rolling back switches entries, not weights in place). ``load`` and ``unload``
are the small interface a tier scheduler drives (promote / demote); ``acquire`` is what generation uses: it
loads on a miss and pins the adapter while a request uses it, so eviction (least recently used first, past
``MEMOS_ADAPTER_POOL_MAX_COUNT`` or ``MEMOS_ADAPTER_POOL_MAX_BYTES``) never removes weights a batch is
running with.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memcube.blobs import BlobNotFound, BlobStore
from memos.parametric import lora
from memos.parametric.errors import AdapterNotFound

if TYPE_CHECKING:
    import torch
    from peft import PeftModel

    from memos.activation.models import LoadedModel

log = logging.getLogger(__name__)

IDLE = "idle"  # a rank-1 adapter with zero B: PEFT needs one adapter to exist; no request ever names it


def adapter_name(sha256: str) -> str:
    """PEFT's name for the adapter whose weights hash to ``sha256`` (a module-dict key: no dots)."""
    return f"a{sha256[:24]}"


def shared_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model``'s modules whose parameters and buffers are the original tensors (not copied)."""
    memo: dict[int, Any] = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return copy.deepcopy(model, memo)


def _with_adapter_names(names: list[str], _module: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    kwargs["adapter_names"] = names
    return args, kwargs


@dataclass(eq=False)
class ServingModel:
    """A model's serving copy with LoRA layers; use ``lock`` around every forward and every change."""

    lm: LoadedModel
    peft: PeftModel
    lock: threading.RLock = field(default_factory=threading.RLock)
    # The LoRA layers, found once per change: PEFT's own adapter_names path walks every module of the model on
    # each forward pass, and each loaded adapter adds modules (its A, B, dropout), so its cost grew with the
    # pool (16 ms per token with 200 adapters loaded against 2 with 9 on the tiny model).
    lora_layers: list[Any] = field(default_factory=list)
    _targets: dict[str, list[str]] = field(default_factory=dict)

    def targets(self, cfg: Any) -> list[str]:
        """The base model's module names ``cfg`` targets (cached per target specification)."""
        from peft.tuners.tuners_utils import check_target_module_exists

        key = repr((cfg.target_modules, cfg.layers_to_transform, cfg.layers_pattern, cfg.exclude_modules))
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = [n for n, _ in self.lm.model.named_modules()
                                          if n and check_target_module_exists(cfg, n)]
        return found

    def refresh(self) -> None:
        """Find the LoRA layers again (after an adapter was added or removed)."""
        from peft.tuners.lora import LoraLayer

        self.lora_layers = [m for m in self.peft.modules() if isinstance(m, LoraLayer)]

    @classmethod
    def build(cls, lm: LoadedModel, first: dict[str, Any]) -> ServingModel:
        import torch
        from peft import get_peft_model

        idle = lora.lora_config({**first, "r": 1, "lora_alpha": 1, "rank_pattern": {}, "alpha_pattern": {}})
        peft = get_peft_model(shared_copy(lm.model), idle, adapter_name=IDLE)  # type: ignore[arg-type]
        peft.eval()
        serving = cls(lm, peft)
        serving.refresh()
        with torch.no_grad():  # the idle adapter adds nothing, whoever would run through it
            for layer in serving.lora_layers:
                layer.lora_B[IDLE].weight.zero_()
        return serving

    def forward(self, names: list[str], **kwargs: Any) -> Any:
        """One forward pass, row ``i`` through adapter ``names[i]`` (``"__base__"``: none): what PEFT's
        ``forward(adapter_names=...)`` does (a pre-forward hook hands each LoRA layer the names, which runs
        its mixed-batch path), on the layers found at the last change. Callers pass only loaded names (the
        pool pins them)."""
        import functools

        import torch

        hook = functools.partial(_with_adapter_names, list(names))
        with self.lock, torch.no_grad():
            handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in self.lora_layers]
            try:
                model: Any = self.peft.base_model.model  # the transformers model inside the LoRA layers
                return model(**kwargs)
            finally:
                for h in handles:
                    h.remove()


@dataclass
class Resident:
    sha256: str
    model: str
    name: str
    bytes: int
    load_ms: float
    last_used: float
    pins: int = 0
    uses: int = 0


@dataclass
class PoolStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    load_ms: list[float] = field(default_factory=list)  # the latest loads (bounded)


class AdapterPool:
    """Adapters loaded per process (one per API process, one per worker). Thread-safe."""

    MAX_TIMINGS = 1000

    def __init__(self, blobs: BlobStore, *, max_count: int, max_bytes: int) -> None:
        self.blobs = blobs
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.stats = PoolStats()
        self._serving: dict[str, ServingModel] = {}
        self._resident: OrderedDict[tuple[str, str], Resident] = OrderedDict()  # LRU first
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ what a scheduler reads and drives
    def resident(self) -> list[Resident]:
        """Loaded adapters, least recently used first."""
        with self._lock:
            return list(self._resident.values())

    @property
    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(r.bytes for r in self._resident.values())

    def is_loaded(self, model: str, sha256: str) -> bool:
        with self._lock:
            return (model, sha256) in self._resident

    def load(self, lm: LoadedModel, sha256: str, config: dict[str, Any],
             tensors: dict[str, torch.Tensor] | None = None) -> Resident:
        """Make the adapter resident on ``lm``'s serving copy (read from the blob store unless ``tensors``
        are given), then evict others past the budgets. A hit only marks it used."""
        return self._load(lm, sha256, config, tensors, pin=False)

    def _load(self, lm: LoadedModel, sha256: str, config: dict[str, Any],
              tensors: dict[str, torch.Tensor] | None, *, pin: bool) -> Resident:
        with self._lock:
            serving = self._serving_for(lm, config)
            key = (lm.name, sha256)
            hit = self._resident.get(key)
            if hit is not None:
                self._resident.move_to_end(key)
                hit.last_used = time.monotonic()
                hit.pins += pin
                self.stats.hits += 1
                return hit
            self.stats.misses += 1
            began = time.perf_counter()
            if tensors is None:
                tensors = self._read(sha256)
            name = adapter_name(sha256)
            with serving.lock:
                self._inject(serving, name, config, tensors)
            resident = Resident(sha256, lm.name, name, lora.nbytes(tensors), (time.perf_counter() - began) * 1000,
                                time.monotonic())
            resident.pins += pin  # before evicting: a pinned newcomer is never the one evicted
            self._resident[key] = resident
            self.stats.load_ms.append(resident.load_ms)
            del self.stats.load_ms[: -self.MAX_TIMINGS]
            self._evict()
            return resident

    def unload(self, model: str, sha256: str) -> bool:
        """Remove the adapter from ``model``'s serving copy (not while pinned); whether it was removed."""
        with self._lock:
            resident = self._resident.get((model, sha256))
            if resident is None or resident.pins:
                return False
            self._remove(resident)
            return True

    @contextmanager
    def acquire(self, lm: LoadedModel, sha256: str, config: dict[str, Any]) -> Iterator[tuple[ServingModel, str]]:
        """The serving model and the adapter's name, loaded if need be and pinned until the block ends."""
        with self._lock:
            resident = self._load(lm, sha256, config, None, pin=True)
            resident.uses += 1
            serving = self._serving[lm.name]
        try:
            yield serving, resident.name
        finally:
            with self._lock:
                resident.pins -= 1
                self._evict()

    def serving(self, lm: LoadedModel) -> ServingModel | None:
        with self._lock:
            s = self._serving.get(lm.name)
            return s if s is not None and s.lm is lm else None

    # ------------------------------------------------------------------ internals
    def _serving_for(self, lm: LoadedModel, config: dict[str, Any]) -> ServingModel:
        current = self._serving.get(lm.name)
        if current is not None and current.lm is lm:
            return current
        # First use, or the registry reloaded the model: adapters on the old copy go with it.
        for key in [k for k in self._resident if k[0] == lm.name]:
            del self._resident[key]
        self._serving[lm.name] = serving = ServingModel.build(lm, config)
        return serving

    def _read(self, sha256: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load

        try:
            return load(self.blobs.get(sha256))
        except BlobNotFound:
            raise AdapterNotFound(f"the weights {sha256} are not in the blob store") from None

    @staticmethod
    def _inject(serving: ServingModel, name: str, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        from peft import set_peft_model_state_dict

        lm = serving.lm
        weights = {k: v.to(device=lm.torch_device, dtype=lm.model.dtype) for k, v in tensors.items()}
        if _inject_into_lora_layers(serving, name, config, weights):
            return
        # Some target is not a LoRA layer yet: PEFT wraps it. low_cpu_mem_usage: the layers are created empty
        # and take these tensors, with no random init first.
        serving.peft.add_adapter(name, lora.lora_config(config), low_cpu_mem_usage=True)
        result = set_peft_model_state_dict(serving.peft, weights, adapter_name=name, low_cpu_mem_usage=True)
        unexpected = list(getattr(result, "unexpected_keys", []))
        if unexpected:  # checked at registration; a changed model would show here
            serving.peft.delete_adapter(name)
            raise AdapterNotFound(f"the adapter's weights do not fit model {lm.name!r}",
                                  detail={"unexpected": unexpected[:10]})
        serving.peft.set_adapter(IDLE)
        serving.refresh()

    def _remove(self, resident: Resident) -> None:
        serving = self._serving.get(resident.model)
        if serving is not None:
            with serving.lock:
                # Layer by layer (PEFT's delete_adapter walks every module of the model, more with each
                # adapter loaded); then the config, so PEFT no longer knows the name.
                for layer in serving.lora_layers:
                    if resident.name in layer.lora_A:
                        layer.delete_adapter(resident.name)
                serving.peft.peft_config.pop(resident.name, None)
        del self._resident[(resident.model, resident.sha256)]

    def _evict(self) -> None:
        """Least recently used first, skipping pinned ones, while over a budget."""
        total = sum(r.bytes for r in self._resident.values())
        for resident in list(self._resident.values()):
            if len(self._resident) <= self.max_count and total <= self.max_bytes:
                return
            if resident.pins:
                continue
            self._remove(resident)
            total -= resident.bytes
            self.stats.evictions += 1
            log.debug("evicted adapter %s from %s", resident.sha256[:12], resident.model)


def _inject_into_lora_layers(serving: ServingModel, name: str, config: dict[str, Any],
                             weights: dict[str, torch.Tensor]) -> bool:
    """Add the adapter to its target layers directly when every one of them is a LoRA layer already (the
    usual case: adapters of a model target the same projections), with ``update_layer`` as PEFT's own
    ``add_adapter`` does per layer, then the weights copied in. PEFT's ``add_adapter`` and
    ``set_peft_model_state_dict`` walk every module and parameter of the model, whose number grows with each
    adapter loaded: a load took ~220 ms with 32 adapters resident on a busy machine. False (nothing changed)
    when a target is not a LoRA layer yet."""
    import torch
    from peft.tuners.lora import LoraLayer
    from peft.utils.other import get_pattern_key

    cfg = lora.lora_config(config)
    model: Any = serving.peft.base_model.model
    targets = serving.targets(cfg)
    layers: dict[str, Any] = {t: model.get_submodule(t) for t in targets}
    if not targets or not all(isinstance(layer, LoraLayer) for layer in layers.values()):
        return False
    alphas = config.get("alpha_pattern") or {}
    for target, layer in layers.items():
        a, b = weights[f"{lora.PREFIX}{target}.lora_A.weight"], weights[f"{lora.PREFIX}{target}.lora_B.weight"]
        alpha = alphas.get(get_pattern_key(list(alphas), target), cfg.lora_alpha)
        layer.update_layer(name, a.shape[0], alpha, cfg, target_name=target)
        with torch.no_grad():
            layer.lora_A[name].weight.copy_(a)
            layer.lora_B[name].weight.copy_(b)
        layer.lora_A[name].requires_grad_(False)
        layer.lora_B[name].requires_grad_(False)
    serving.peft.peft_config[name] = cfg
    return True
