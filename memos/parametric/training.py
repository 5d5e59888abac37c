"""Fine-tune a LoRA on texts (a cube's plaintext memories), on the model's device (the CPU for the tiny and
small models), deterministically: the same texts, model and options give the same weights, so a job that
runs twice stores one blob.

The base weights are shared with the registry's model and stay frozen; only the LoRA A/B matrices train
(``pool.shared_copy`` + ``get_peft_model``). Each step is one batch of every text (cut into windows of at
most ``window`` tokens, padded, the padding masked out of the loss): the memories of one adapter are few and
short, and a full pass per step makes the loss curve a property of the data, not of a sampling order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memos.errors import InvalidInput
from memos.parametric.lora import json_safe
from memos.parametric.pool import shared_copy

if TYPE_CHECKING:
    import torch

    from memos.activation.models import LoadedModel

SEED = 13
WINDOW = 128
MAX_WINDOWS = 256


@dataclass(frozen=True)
class Trained:
    config: dict[str, Any]
    weights: bytes  # safetensors, as PEFT saves adapter_model.safetensors
    losses: list[float]  # mean token loss of each step, before its update
    final_loss: float  # after the last update


def windows(lm: LoadedModel, texts: Sequence[str], window: int = WINDOW) -> list[list[int]]:
    """Each text's token ids followed by the end-of-sequence id, cut into windows of at most ``window``."""
    eos = min(lm.eos_token_ids) if lm.eos_token_ids else None
    out: list[list[int]] = []
    for text in texts:
        ids = lm.encode(text) + ([eos] if eos is not None else [])
        out.extend(ids[i:i + window] for i in range(0, len(ids), window) if len(ids[i:i + window]) > 1)
    if not out:
        raise InvalidInput("the texts have no tokens to train on")
    if len(out) > MAX_WINDOWS:
        raise InvalidInput(f"the texts make {len(out)} windows of {window} tokens; at most {MAX_WINDOWS} are "
                           "trained on at once: select fewer memories")
    return out


def batch(lm: LoadedModel, rows: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (padding labelled -100: out of the loss)."""
    import torch

    width = max(len(r) for r in rows)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r))
        mask[i, : len(r)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    device = lm.torch_device
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def train(
    lm: LoadedModel,
    texts: Sequence[str],
    *,
    steps: int,
    rank: int = 8,
    learning_rate: float = 2e-3,
    target_modules: Sequence[str] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> Trained:
    """Train a LoRA of ``rank`` for ``steps`` full-batch AdamW steps on ``texts``. ``target_modules``: None
    lets PEFT choose by architecture (attention projections for Llama)."""
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save

    rows = windows(lm, texts)
    data = batch(lm, rows)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, task_type="CAUSAL_LM",
                        target_modules=list(target_modules) if target_modules else None)
    with torch.random.fork_rng(devices=[]):  # deterministic, and nobody else's random stream moves
        torch.manual_seed(SEED)
        model = get_peft_model(shared_copy(lm.model), config)  # type: ignore[arg-type]
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
        losses: list[float] = []
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = model(**data).loss
            loss.backward()
            optimizer.step()
            losses.append(round(float(loss.detach()), 6))
            if on_step is not None:
                on_step(step, losses[-1])
        model.eval()
        with torch.no_grad():
            final = round(float(model(**data).loss), 6)
    state = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(model).items()}
    saved = json_safe(model.peft_config["default"].to_dict())
    saved["inference_mode"] = True
    saved["base_model_name_or_path"] = lm.name
    return Trained(config=saved, weights=save(state), losses=losses, final_loss=final)


def text_loss(lm: LoadedModel, texts: Sequence[str], forward: Callable[..., Any] | None = None) -> float:
    """Mean token loss of ``texts`` (as ``train`` windows them) under ``forward`` (the base model by
    default; a serving model's forward with an adapter to measure what it learned)."""
    import torch

    data = batch(lm, windows(lm, texts))
    with torch.no_grad():
        out = (forward or lm.model)(**data)
    return float(out.loss)
