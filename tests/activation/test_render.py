"""The text of a snapshot: a stable order whatever order memories are given in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from memos.activation.models import LoadedModel
from memos.activation.render import MEMORY_SEPARATOR, SEPARATOR, prompt_ids, render

T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def test_memories_are_ordered_by_creation_then_id() -> None:
    rows = [
        (T0 + timedelta(seconds=1), A, "third"),
        (T0, B, "second"),
        (T0, A, "first"),
    ]
    assert render(rows) == MEMORY_SEPARATOR.join(["first", "second", "third"])
    assert render(list(reversed(rows))) == render(rows)


def test_surrounding_whitespace_and_empty_memories_are_left_out() -> None:
    # A snapshot's text never ends with whitespace: the join with SEPARATOR + prompt stays one space.
    assert render([(T0, A, "  Caroline has a cat.\n"), (T0, B, "   "), (T0 + timedelta(1), A, "\tPixel")]) == (
        "Caroline has a cat.\nPixel"
    )
    assert render([]) == ""


def test_a_prompt_after_a_snapshot_starts_with_the_separator(tiny: LoadedModel) -> None:
    assert SEPARATOR == " "
    assert prompt_ids(tiny, "Who has a cat?") == tiny.encode(" Who has a cat?")
    assert prompt_ids(tiny, "Who has a cat?", after_prefix=False) == tiny.encode("Who has a cat?")
