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
import re
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
    if inference:
        # Served weights are always loaded from the file: no init scheme runs (PiSSA, OLoRA... would even
        # rewrite the base weights, which the serving copy shares with the registry's model).
        kwargs["init_lora_weights"] = False
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidAdapter(f"{CONFIG_FILE} is not JSON: {str(exc)[:200]}") from None
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
    _check_fields(raw)
    config = json_safe(lora_config(raw).to_dict())
    config["inference_mode"] = True
    tensors = _read_weights(weights_bytes)
    return ParsedAdapter(config=config, tensors=tensors, weights=weights_bytes)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v) and v > 0


def _check_fields(raw: dict[str, Any]) -> None:
    """The fields that decide which weights exist and their shapes, typed before PEFT sees them (PEFT
    assumes them well formed and would fail deep inside with a TypeError or a regex error)."""
    problems: list[str] = []
    r = raw.get("r", 8)
    if not (_is_int(r) and 1 <= r <= 4096):
        problems.append("r must be an integer from 1 to 4096")
    if not _is_number(raw.get("lora_alpha", 8)):
        problems.append("lora_alpha must be a positive number")
    targets = raw.get("target_modules")
    if isinstance(targets, str):
        try:
            re.compile(targets)
        except re.error as exc:
            problems.append(f"target_modules is not a valid regular expression: {exc}")
    elif not (isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)):
        problems.append("target_modules must be a regular expression or a non-empty list of module names")
    layers = raw.get("layers_to_transform")
    if layers is not None and not (_is_int(layers) or (isinstance(layers, list) and all(map(_is_int, layers)))):
        problems.append("layers_to_transform must be an integer or a list of integers")
    if raw.get("init_lora_weights", True) not in (True, False, "gaussian"):
        # PiSSA, OLoRA, CorDA, LoftQ... start from a rewritten base model: their A/B are not a LoRA of this
        # model's weights unless PEFT converted them to one when saving (which records a plain init).
        problems.append("init_lora_weights must be true, false or gaussian: an adapter initialised with "
                        f"{raw.get('init_lora_weights')!r} needs a rewritten base model (convert it to plain "
                        "LoRA when saving: path_initial_model_for_weight_conversion)")
    for name, ok in (("rank_pattern", lambda v: _is_int(v) and 1 <= v <= 4096), ("alpha_pattern", _is_number)):
        pattern = raw.get(name) or {}
        if not (isinstance(pattern, dict) and all(isinstance(k, str) and ok(v) for k, v in pattern.items())):
            problems.append(f"{name} must map module patterns to positive numbers")
            continue
        for key in pattern:
            try:
                re.compile(key)
            except re.error:
                problems.append(f"{name} has an invalid pattern {key!r}")
    if problems:
        raise InvalidAdapter(f"{CONFIG_FILE} has invalid fields", detail={"problems": problems})


def module_rank(config: dict[str, Any], module: str) -> int:
    """The rank PEFT gives ``module``: its ``rank_pattern`` entry if one matches, else ``r``."""
    from peft.utils.other import get_pattern_key

    pattern = config.get("rank_pattern") or {}
    return int(pattern.get(get_pattern_key(list(pattern), module), config.get("r", 8)))


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
    bad: list[dict[str, Any]] = []
    for name in targets:
        a, b = adapter.tensors[f"{PREFIX}{name}.lora_A.weight"], adapter.tensors[f"{PREFIX}{name}.lora_B.weight"]
        want_a, want_b = expected[f"{PREFIX}{name}.lora_A.weight"], expected[f"{PREFIX}{name}.lora_B.weight"]
        r = module_rank(adapter.config, name)
        if list(a.shape) != [r, want_a[1]] or list(b.shape) != [want_b[0], r]:
            bad.append({"module": name, "lora_A": list(a.shape), "lora_B": list(b.shape),
                        "expected_A": [r, want_a[1]], "expected_B": [want_b[0], r]})
    if bad:
        raise AdapterMismatch(f"weight shapes do not fit model {model_name!r} at rank {adapter.rank}",
                              detail={"shapes": bad[:10], "n_bad": len(bad)})
    return sorted(targets)


def nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())
