"""PEFT LoRA adapters as bytes: read an upload, check it against a base model, and turn it into what PEFT
loads.

An adapter is what ``PeftModel.save_pretrained`` writes: ``adapter_config.json`` (a ``LoraConfig``) and
``adapter_model.safetensors`` (``base_model.model.<module>.lora_A.weight`` ``[r, in]`` and ``lora_B.weight``
``[out, r]`` for every targeted module). The weights file is stored as uploaded (its sha256 is the blob's
name); the config travels in the memory's metadata, so each version says how its weights are applied.

Only plain LoRA on ``nn.Linear`` layers is accepted: options that add weights other than A/B (DoRA,
``modules_to_save``, LoRA biases, trainable tokens) or that PEFT cannot serve in a mixed-adapter batch are
refused before anything is stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from memos.parametric.errors import AdapterMismatch, InvalidAdapter

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig

PREFIX = "base_model.model."
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
MAX_CONFIG_BYTES = 256 * 1024

# Options whose non-default value adds weights besides A/B, or which PEFT's mixed-adapter batches refuse.
_REFUSED: dict[str, Any] = {
    "use_dora": False,
    "modules_to_save": None,
    "lora_bias": False,
    "bias": "none",
    "trainable_token_indices": None,
    "target_parameters": None,
    "layer_replication": None,
    "use_qalora": False,
    "alora_invocation_tokens": None,
    "fan_in_fan_out": False,
}


@dataclass(frozen=True)
class ParsedAdapter:
    """An upload that reads as a LoRA adapter (not yet checked against a model)."""

    config: dict[str, Any]  # JSON-safe: what is stored in the memory's metadata
    tensors: dict[str, torch.Tensor]
    weights: bytes  # the safetensors file as uploaded

    @property
    def rank(self) -> int:
        return int(self.config.get("r", 8))

    @property
    def alpha(self) -> float:
        return float(self.config.get("lora_alpha", 8))

    @property
    def params(self) -> int:
        return sum(t.numel() for t in self.tensors.values())

    @property
    def dtype(self) -> str:
        kinds = sorted({str(t.dtype).removeprefix("torch.") for t in self.tensors.values()})
        return kinds[0] if len(kinds) == 1 else ",".join(kinds)


def json_safe(value: Any) -> Any:
    """A PEFT config value as JSON (sets become sorted lists, enums their value)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(json_safe(v) for v in value)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
        return value.value
    return value


def lora_config(config: dict[str, Any], *, inference: bool = True) -> LoraConfig:
    """The ``LoraConfig`` of a stored or uploaded config; keys this PEFT does not know are dropped (newer
    PEFT versions add bookkeeping keys), as ``PeftConfig.from_pretrained`` does."""
    from peft import LoraConfig

    known = {f.name for f in fields(LoraConfig)}
    # base_model_name_or_path is informational here (the model is named by the request and checked by its
    # fingerprint); PEFT warns when it differs from the model it is applied to.
    skip = ("peft_type", "auto_mapping", "base_model_name_or_path", "revision")
    kwargs = {k: v for k, v in config.items() if k in known and k not in skip}
    kwargs["inference_mode"] = inference
    try:
        return LoraConfig(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidAdapter(f"{CONFIG_FILE} is not a valid LoRA config: {exc}") from exc


def read(config_bytes: bytes, weights_bytes: bytes) -> ParsedAdapter:
    """Parse an upload; ``InvalidAdapter`` (422) naming what is wrong."""
    if len(config_bytes) > MAX_CONFIG_BYTES:
        raise InvalidAdapter(f"{CONFIG_FILE} is over {MAX_CONFIG_BYTES} bytes")
    try:
        raw = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidAdapter(f"{CONFIG_FILE} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidAdapter(f"{CONFIG_FILE} must be a JSON object")
    if str(raw.get("peft_type", "")).upper() != "LORA":
        raise InvalidAdapter(f"only LoRA adapters are served; {CONFIG_FILE} has peft_type {raw.get('peft_type')!r}")
    if raw.get("task_type") not in (None, "CAUSAL_LM"):
        raise InvalidAdapter(f"task_type {raw.get('task_type')!r}: only CAUSAL_LM adapters are served")
    refused = {k: raw[k] for k, default in _REFUSED.items() if raw.get(k, default) not in (default, [], {})}
    if refused:
        raise InvalidAdapter("these options are not served (they add weights besides lora_A/lora_B, or mixed-"
                             "adapter batches cannot apply them)", detail={"options": json_safe(refused)})
    config = json_safe(lora_config(raw).to_dict())
    config["inference_mode"] = True
    tensors = _read_weights(weights_bytes)
    return ParsedAdapter(config=config, tensors=tensors, weights=weights_bytes)


def _read_weights(data: bytes) -> dict[str, torch.Tensor]:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise InvalidAdapter(f"{WEIGHTS_FILE} is not a readable safetensors file: {exc}") from exc
    if not tensors:
        raise InvalidAdapter(f"{WEIGHTS_FILE} holds no tensors")
    for name, t in tensors.items():
        if not t.is_floating_point():
            raise InvalidAdapter(f"{WEIGHTS_FILE}: {name} is {t.dtype}, not a floating-point tensor")
        if not bool(torch.isfinite(t).all()):
            raise InvalidAdapter(f"{WEIGHTS_FILE}: {name} holds NaN or infinite values")
    return tensors


def check_against(adapter: ParsedAdapter, model: torch.nn.Module, model_name: str) -> list[str]:
    """The modules of ``model`` the adapter targets (each an ``nn.Linear``), after checking that the weights
    are exactly lora_A/lora_B of those modules with matching shapes; ``AdapterMismatch`` (422) otherwise."""
    from peft.tuners.tuners_utils import check_target_module_exists
    from torch import nn

    cfg = lora_config(adapter.config)
    targets = {name: m for name, m in model.named_modules() if name and check_target_module_exists(cfg, name)}
    if not targets:
        raise AdapterMismatch(f"target_modules match no module of model {model_name!r}",
                              detail={"target_modules": adapter.config.get("target_modules")})
    not_linear = sorted(n for n, m in targets.items() if not isinstance(m, nn.Linear))
    if not_linear:
        raise AdapterMismatch(f"only linear layers can carry LoRA weights here; model {model_name!r} has other "
                              "modules under these names", detail={"modules": not_linear[:20]})
    expected: dict[str, tuple[int, int]] = {}
    for name, m in targets.items():
        assert isinstance(m, nn.Linear)
        expected[f"{PREFIX}{name}.lora_A.weight"] = (-1, m.in_features)
        expected[f"{PREFIX}{name}.lora_B.weight"] = (m.out_features, -1)
    missing = sorted(set(expected) - set(adapter.tensors))
    extra = sorted(set(adapter.tensors) - set(expected))
    if missing or extra:
        raise AdapterMismatch(
            f"the weights do not match the modules the config targets in model {model_name!r}",
            detail={"missing": missing[:20], "unexpected": extra[:20], "n_missing": len(missing),
                    "n_unexpected": len(extra)})
    patterned = bool(adapter.config.get("rank_pattern"))
    bad: list[dict[str, Any]] = []
    for name in targets:
        a, b = adapter.tensors[f"{PREFIX}{name}.lora_A.weight"], adapter.tensors[f"{PREFIX}{name}.lora_B.weight"]
        want_a, want_b = expected[f"{PREFIX}{name}.lora_A.weight"], expected[f"{PREFIX}{name}.lora_B.weight"]
        r = a.shape[0] if a.dim() == 2 else -1
        ok = (a.dim() == 2 and b.dim() == 2 and a.shape[1] == want_a[1] and b.shape[0] == want_b[0]
              and b.shape[1] == r and (patterned or r == adapter.rank))
        if not ok:
            bad.append({"module": name, "lora_A": list(a.shape), "lora_B": list(b.shape),
                        "expected_A": [adapter.rank, want_a[1]], "expected_B": [want_b[0], adapter.rank]})
    if bad:
        raise AdapterMismatch(f"weight shapes do not fit model {model_name!r} at rank {adapter.rank}",
                              detail={"shapes": bad[:10], "n_bad": len(bad)})
    if not math.isfinite(adapter.alpha) or adapter.alpha <= 0:
        raise InvalidAdapter(f"lora_alpha must be a positive number, not {adapter.alpha}")
    return sorted(targets)


def nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())
