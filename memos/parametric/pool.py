"""LoRA adapters on the payload tiers of a serving process: in the serving model, in host memory, or on disk.

``ServingModel``: a copy of a loaded model's modules that *shares* every base weight tensor (no second copy
of the weights) and carries the LoRA layers, wrapped in a ``PeftModel``. The registry's model itself is
never touched, so plain and activation generation stay exactly as they were. PEFT picks each row's adapter
through forward hooks registered on the modules (``adapter_names``), which are not per thread: every
forward of a serving model, and every load into it, holds its lock.

``AdapterPool``: adapters by the sha256 of their weights (content-addressed: two versions with the same
weights are one entry, and rolling back switches entries, not weights in place), held by the process's tier
manager (``memos.scheduler.tiers``, shared with KV snapshots and their byte budgets) under the key
``lora/<model>/<sha256>``. An adapter's residency is

* the top tier (``gpu``; on the CPU device without CUDA): its LoRA layers are in the model's serving copy,
  on the model's device, ready for a batch;
* a lower tier (``cpu``): its A/B tensors in host memory, copied into the layers when a request needs it;
* ``disk``: the safetensors blob.

``AdapterMover`` makes those moves for the manager; the manager decides them by its policy
(``MEMOS_TIER_POLICY``) and records every one. On top of the byte budgets the pool keeps at most
``MEMOS_ADAPTER_POOL_MAX_COUNT`` adapters (and ``MEMOS_ADAPTER_POOL_MAX_BYTES`` of their weights) in the serving
copies: past them the lowest-ranked go down to host memory. ``load`` and ``unload`` promote and drop one
adapter; ``acquire`` is what generation uses: it brings the adapter into the serving model and holds it there
(``TierManager.use``) while a request or batch runs with it, so no move ever takes out weights a batch is
running with.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memcube.blobs import BlobNotFound, BlobStore
from memos.parametric import lora
from memos.parametric.errors import AdapterNotFound
from memos.scheduler.tiers import DISK

if TYPE_CHECKING:
    import torch
    from peft import PeftModel

    from memos.activation.models import LoadedModel
    from memos.scheduler.tiers import TierManager, TierSpec

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
    """An adapter in a serving copy (the top tier)."""

    sha256: str
    model: str
    name: str
    bytes: int
    load_ms: float  # what putting it into the serving copy took
    last_used: float
    pins: int = 0  # requests using it now
    uses: int = 0


@dataclass
class PoolStats:
    hits: int = 0  # requests whose adapter was in the serving copy already
    misses: int = 0  # requests that had to bring it in (from host memory or disk)
    evictions: int = 0  # adapters taken out of a serving copy (to host memory or disk)
    load_ms: list[float] = field(default_factory=list)  # the latest times to make an adapter ready (bounded)


ADAPTER_PREFIX = "lora/"


def adapter_key(model: str, sha256: str) -> str:
    """The tier manager's key of an adapter's weights on ``model``."""
    return f"{ADAPTER_PREFIX}{model}/{sha256}"


def split_key(key: str) -> tuple[str, str]:
    """(model, sha256) of an adapter key."""
    model, sha = key[len(ADAPTER_PREFIX):].rsplit("/", 1)
    return model, sha


@dataclass(eq=False)
class HostAdapter:
    """An adapter below the top tier, on the tier's device (host memory): as read from its blob (``tensors``),
    or, once it has been in a serving copy, its LoRA modules and settings per target layer as they were there
    (``layers``: target -> PEFT's per-adapter entries), put back as they are when it is promoted again."""

    tensors: dict[str, torch.Tensor]
    nbytes: int
    layers: dict[str, dict[str, Any]] | None = None

    def to(self, device: str) -> HostAdapter:
        layers = None if self.layers is None else {
            t: {attr: _to(v, device) for attr, v in state.items()} for t, state in self.layers.items()}
        return HostAdapter({k: v.to(device) for k, v in self.tensors.items()}, self.nbytes, layers)


@dataclass(eq=False)
class ServedAdapter:
    """An adapter in the top tier: its LoRA layers are in ``serving`` under ``name``."""

    serving: ServingModel
    name: str
    config: dict[str, Any]
    nbytes: int


class AdapterPool:
    """Adapters of one process (one per API process, one per worker), on ``manager``'s tiers. Thread-safe.

    Without a ``manager`` the pool has one of its own: a single tier of ``max_bytes`` under LRU (tests and
    tools); the service passes the process's shared manager (``ParametricRuntime.over``)."""

    MAX_TIMINGS = 1000

    def __init__(self, blobs: BlobStore, *, max_count: int, max_bytes: int, manager: TierManager | None = None) -> None:
        from memos.scheduler.movers import PayloadMovers
        from memos.scheduler.policy import LRU
        from memos.scheduler.tiers import TierManager, TierSpec

        self.blobs = blobs
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.stats = PoolStats()
        self.manager = manager or TierManager([TierSpec("gpu", max_bytes, "cpu", emulated=True)], LRU(),
                                              PayloadMovers(_NoOtherPayloads()))
        movers = self.manager.mover
        if not isinstance(movers, PayloadMovers):
            raise TypeError("the tier manager's mover must be a PayloadMovers to hold adapters beside snapshots")
        movers.add(ADAPTER_PREFIX, AdapterMover(self, top=self.manager.tiers[0].name))
        self._serving: dict[str, ServingModel] = {}
        self._in_serving: dict[str, Resident] = {}  # key -> the adapter in a serving copy (the top tier)
        self._specs: dict[str, tuple[LoadedModel, dict[str, Any]]] = {}  # key -> what loading it needs
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ what a scheduler reads and drives
    def resident(self) -> list[Resident]:
        """Adapters in the serving copies, the one the policy would move out first first."""
        with self._lock:
            keys = list(self._in_serving)
        order = self.manager.ranked(keys)
        with self._lock:
            return [self._in_serving[k] for k in order if k in self._in_serving]

    @property
    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(r.bytes for r in self._in_serving.values())

    def is_loaded(self, model: str, sha256: str) -> bool:
        """In ``model``'s serving copy (the top tier)."""
        with self._lock:
            return adapter_key(model, sha256) in self._in_serving

    def residency(self, model: str, sha256: str) -> str:
        """``gpu`` / ``cpu`` (the tier's name) or ``disk``."""
        return self.manager.residency(adapter_key(model, sha256))

    def load(self, lm: LoadedModel, sha256: str, config: dict[str, Any],
             tensors: dict[str, torch.Tensor] | None = None) -> Resident:
        """Bring the adapter into ``lm``'s serving copy (from host memory or the blob store; ``tensors`` are
        used instead of the blob when it is on disk), then move others down past the budgets."""
        key = self._prepare(lm, sha256, config)
        hit = self.is_loaded(lm.name, sha256)
        began = time.perf_counter()
        if tensors is not None and not hit and self.manager.residency(key) == DISK:
            self.manager.admit(key, HostAdapter(tensors, lora.nbytes(tensors)), load_seconds=None)
        with self.manager.use(key) as payload:
            resident = self._resident(key, payload)
            self._count(resident, hit, began)
        self._enforce_caps()
        return resident

    def prefetch(self, lm: LoadedModel, sha256: str, config: dict[str, Any], *, weight: float = 1.0) -> bool:
        """Bring the adapter into memory ahead of a predicted use, where the policy places it, if it ranks above
        what it would displace; whether it is in memory afterwards (the predicted use is noted either way)."""
        key = self._prepare(lm, sha256, config)
        held = self.manager.prefetch(key, weight=weight)
        self._enforce_caps()
        return held

    def unload(self, model: str, sha256: str) -> bool:
        """Take the adapter out of memory, back to disk (not while a request uses it); whether it was held."""
        return self.manager.evict(adapter_key(model, sha256))

    def pin(self, lm: LoadedModel, sha256: str, config: dict[str, Any]) -> None:
        """Keep the adapter in memory (a serving copy or host memory, never only on disk) until ``unpin``;
        ``ValueError`` if the pinned payloads would not fit the memory tiers together."""
        key = self._prepare(lm, sha256, config)
        self.manager.pin(key)
        self._enforce_caps()

    def unpin(self, model: str, sha256: str) -> None:
        self.manager.unpin(adapter_key(model, sha256))

    def is_pinned(self, model: str, sha256: str) -> bool:
        return self.manager.is_pinned(adapter_key(model, sha256))

    @contextmanager
    def acquire(self, lm: LoadedModel, sha256: str, config: dict[str, Any]) -> Iterator[tuple[ServingModel, str]]:
        """The serving model and the adapter's name, brought in if need be and held there until the block ends."""
        key = self._prepare(lm, sha256, config)
        with self._lock:
            hit = key in self._in_serving
        began = time.perf_counter()
        with self.manager.use(key) as payload:
            resident = self._resident(key, payload)
            with self._lock:
                resident.pins += 1
                resident.uses += 1
            self._count(resident, hit, began)
            try:
                yield payload.serving, payload.name
            finally:
                with self._lock:
                    resident.pins -= 1
        self._enforce_caps()

    def serving(self, lm: LoadedModel) -> ServingModel | None:
        with self._lock:
            s = self._serving.get(lm.name)
            return s if s is not None and s.lm is lm else None

    # ------------------------------------------------------------------ internals
    def _prepare(self, lm: LoadedModel, sha256: str, config: dict[str, Any]) -> str:
        """Note what loading the adapter needs; a model the registry reloaded takes its adapters out of the old
        serving copy first (called with no lock of the manager held)."""
        key = adapter_key(lm.name, sha256)
        with self._lock:
            current = self._serving.get(lm.name)
            stale = [k for k, r in self._in_serving.items() if r.model == lm.name] \
                if current is not None and current.lm is not lm else []
            self._specs[key] = (lm, config)
        for k in stale:
            self.manager.evict(k)
        return key

    def _resident(self, key: str, payload: Any) -> Resident:
        if not isinstance(payload, ServedAdapter):  # use() always holds it in the top tier
            raise RuntimeError(f"adapter {key} is not in a serving copy")
        with self._lock:
            resident = self._in_serving[key]
            resident.last_used = time.monotonic()
            return resident

    def _count(self, resident: Resident, hit: bool, began: float) -> None:
        with self._lock:
            if hit:
                self.stats.hits += 1
                return
            self.stats.misses += 1
            self.stats.load_ms.append((time.perf_counter() - began) * 1000)
            del self.stats.load_ms[: -self.MAX_TIMINGS]

    def _enforce_caps(self) -> None:
        """Past ``max_count`` adapters or ``max_bytes`` of them in the serving copies, move the lowest-ranked
        not in use down a tier (the manager's own budgets are enforced by the manager)."""
        while True:
            with self._lock:
                keys = list(self._in_serving)
                over = len(keys) > self.max_count or sum(r.bytes for r in self._in_serving.values()) > self.max_bytes
            if not over:
                return
            if not any(self.manager.demote(k) for k in self.manager.ranked(keys)):
                return  # every one is in use: over the caps until released

    def _serving_for(self, lm: LoadedModel, config: dict[str, Any]) -> ServingModel:
        with self._lock:
            current = self._serving.get(lm.name)
            if current is not None and current.lm is lm:
                return current
            self._serving[lm.name] = serving = ServingModel.build(lm, config)
            return serving

    def _read(self, sha256: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load

        try:
            return load(self.blobs.get(sha256))
        except BlobNotFound:
            raise AdapterNotFound(f"the weights {sha256} are not in the blob store") from None

    def _spec(self, key: str) -> tuple[LoadedModel, dict[str, Any]]:
        with self._lock:
            spec = self._specs.get(key)
        if spec is None:  # the manager asked for an adapter nobody named in this process
            raise AdapterNotFound(f"adapter {key} was not asked for in this process")
        return spec

    def _put_in(self, key: str, host: HostAdapter) -> ServedAdapter:
        """Into the serving copy (called by the manager, under its lock or the key's gate): the modules it had
        there put back if it has been there and the copy's target layers are LoRA layers, else its tensors
        injected."""
        lm, config = self._spec(key)
        _, sha = split_key(key)
        serving = self._serving_for(lm, config)
        name = adapter_name(sha)
        began = time.perf_counter()
        with serving.lock:
            if host.layers is None or not _attach(serving, name, config, host.layers):
                tensors = host.tensors or _tensors_in(host.layers or {})
                self._inject(serving, name, config, tensors)
        size = host.nbytes
        with self._lock:
            self._in_serving[key] = Resident(sha, lm.name, name, size, (time.perf_counter() - began) * 1000,
                                             time.monotonic())
        return ServedAdapter(serving, name, config, size)

    def _take_out(self, key: str, served: ServedAdapter, device: str | None) -> HostAdapter | None:
        """Out of the serving copy; kept on ``device`` (``None``: not kept, it goes to disk)."""
        serving = served.serving
        host: HostAdapter | None = None
        with serving.lock:
            if device is not None:  # its modules and settings taken out of each layer as they are
                host = HostAdapter({}, served.nbytes, _detach(serving, served.name, served.config)).to(device)
            # Layer by layer (PEFT's delete_adapter walks every module of the model, more with each adapter
            # loaded); then the config, so PEFT no longer knows the name.
            for layer in serving.lora_layers:
                if served.name in layer.lora_A:
                    layer.delete_adapter(served.name)
            serving.peft.peft_config.pop(served.name, None)
        with self._lock:
            self._in_serving.pop(key, None)
            self.stats.evictions += 1
            if device is None:
                self._specs.pop(key, None)
        log.debug("adapter %s out of the serving copy of %s", key, served.serving.lm.name)
        return host

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


class AdapterMover:
    """The tier manager's mover for adapter keys: into the serving copy for the top tier, host tensors below."""

    def __init__(self, pool: AdapterPool, *, top: str) -> None:
        self.pool = pool
        self.top = top

    def load(self, key: str, device: str) -> HostAdapter:
        self.pool._spec(key)  # an unknown adapter fails before the blob is read
        tensors = self.pool._read(split_key(key)[1])
        return HostAdapter(tensors, lora.nbytes(tensors))

    def move(self, key: str, payload: Any, tier: TierSpec) -> Any:
        if tier.name == self.top:
            if isinstance(payload, ServedAdapter):
                return payload
            assert isinstance(payload, HostAdapter)
            return self.pool._put_in(key, payload)
        if isinstance(payload, ServedAdapter):
            host = self.pool._take_out(key, payload, tier.device)
            assert host is not None
            return host
        assert isinstance(payload, HostAdapter)
        return payload.to(tier.device)

    def nbytes(self, key: str, payload: Any) -> int:
        assert isinstance(payload, HostAdapter | ServedAdapter)
        return payload.nbytes

    def stored_bytes(self, key: str) -> int | None:
        try:
            return self.pool.blobs.size(split_key(key)[1])
        except BlobNotFound:
            return None

    def drop(self, key: str, payload: Any) -> None:
        if isinstance(payload, ServedAdapter):
            self.pool._take_out(key, payload, None)
        else:
            with self.pool._lock:
                self.pool._specs.pop(key, None)


class _NoOtherPayloads:
    """The mover for keys that are not adapters, in a pool's own manager: there are none."""

    def load(self, key: str, device: str) -> Any:
        raise KeyError(f"not an adapter: {key}")

    def move(self, key: str, payload: Any, tier: TierSpec) -> Any:
        raise KeyError(f"not an adapter: {key}")

    def nbytes(self, key: str, payload: Any) -> int:
        raise KeyError(f"not an adapter: {key}")

    def stored_bytes(self, key: str) -> int | None:
        return None

    def drop(self, key: str, payload: Any) -> None:
        return None


# PEFT's per-adapter entries of a LoRA layer: what ``delete_adapter`` removes (its own lists), and the variant
# (DoRA and the like: refused at upload, kept here for completeness).
_EXTRA_ENTRIES = ("lora_variant", "frozen_peft_weight_names")


def _entries(layer: Any) -> list[str]:
    return [*layer.adapter_layer_names, *layer.other_param_names, *_EXTRA_ENTRIES]


def _detach(serving: ServingModel, name: str, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The adapter's entries of every target layer (its A and B modules, dropout, rank, scaling...), taken out
    of the layers as PEFT's ``delete_adapter`` would, but kept: on the CPU device nothing is copied."""
    model: Any = serving.peft.base_model.model
    out: dict[str, dict[str, Any]] = {}
    for target in serving.targets(lora.lora_config(config)):
        layer = model.get_submodule(target)
        state: dict[str, Any] = {}
        for attr in _entries(layer):
            container = getattr(layer, attr, None)
            if container is not None and name in container:
                state[attr] = container.pop(name)
        out[target] = state
    return out


def _attach(serving: ServingModel, name: str, config: dict[str, Any], layers: dict[str, dict[str, Any]]) -> bool:
    """Put entries ``_detach`` took back into the serving copy's layers (on the model's device); False, with
    nothing changed, when a target is not a LoRA layer of this copy (the model was reloaded meanwhile)."""
    from peft.tuners.lora import LoraLayer

    model: Any = serving.peft.base_model.model
    cfg = lora.lora_config(config)
    targets = serving.targets(cfg)
    if set(targets) != set(layers):
        return False
    found = {t: model.get_submodule(t) for t in targets}
    if not all(isinstance(layer, LoraLayer) for layer in found.values()):
        return False
    device = serving.lm.torch_device
    for target, layer in found.items():
        for attr, value in layers[target].items():
            getattr(layer, attr)[name] = _to(value, device)
    serving.peft.peft_config[name] = cfg
    return True


def _to(value: Any, device: Any) -> Any:
    """Modules and tensors onto ``device`` (a module in place, as ``nn.Module.to`` does); settings as they are."""
    import torch

    if isinstance(value, torch.nn.Module | torch.Tensor):
        return value.to(device)
    return value


def _tensors_in(layers: dict[str, dict[str, Any]]) -> dict[str, torch.Tensor]:
    """The A/B weights of detached entries in the layout of the adapter's safetensors file."""
    out: dict[str, torch.Tensor] = {}
    for target, state in layers.items():
        out[f"{lora.PREFIX}{target}.lora_A.weight"] = state["lora_A"].weight.detach()
        out[f"{lora.PREFIX}{target}.lora_B.weight"] = state["lora_B"].weight.detach()
    return out


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
