"""`.env.example` must list every setting (docs checked against code)."""

from pathlib import Path

from memos.config import Settings


def test_env_example_lists_every_setting() -> None:
    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    listed = {line.split("=", 1)[0] for line in text.splitlines() if line.startswith("MEMOS_")}
    expected = {f"MEMOS_{name.upper()}" for name in Settings.model_fields}
    assert expected - listed == set(), "add these to .env.example"
    assert listed - expected == set(), "these are not settings any more"
