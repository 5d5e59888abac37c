"""Parsing JSON lines and LoCoMo files into memories (pure functions, no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memcube.schemas import SourceType
from memos.importers import (
    ImportFormatError,
    iter_jsonl,
    locomo_conversations,
    parse_locomo_datetime,
    read_jsonl,
    read_locomo,
)


def locomo_sample(sample_id: str = "conv-1") -> dict[str, Any]:
    """A small LoCoMo-shaped sample: two sessions, one turn with an image caption."""
    return {
        "sample_id": sample_id,
        "qa": [],
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hey Mel! Good to see you!"},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "Look at this painting.",
                 "img_url": ["http://example.invalid/x.jpg"], "blip_caption": "a photo of a lake at sunrise"},
            ],
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [
                {"speaker": "Melanie", "dia_id": "D2:1", "text": "I ran a charity race for mental health."},
            ],
            "session_10_date_time": "8:00 pm on 1 December, 2023",
            "session_10": [{"speaker": "Caroline", "dia_id": "D10:1", "text": "Later."}],
            "session_11_date_time": "9:00 pm on 2 December, 2023",  # a date without turns, as in locomo10
        },
    }


@pytest.mark.parametrize(("text", "expected"), [
    ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56, tzinfo=UTC)),
    ("10:37 am on 27 June, 2023", datetime(2023, 6, 27, 10, 37, tzinfo=UTC)),
    ("12:09 am on 13 September, 2023", datetime(2023, 9, 13, 0, 9, tzinfo=UTC)),
])
def test_parse_locomo_datetime(text: str, expected: datetime) -> None:
    assert parse_locomo_datetime(text) == expected


def test_parse_locomo_datetime_rejects_garbage() -> None:
    with pytest.raises(ImportFormatError):
        parse_locomo_datetime("the day after tomorrow")


def test_locomo_turns_become_memories() -> None:
    [conv] = locomo_conversations([locomo_sample()])
    assert conv.sample_id == "conv-1"
    assert conv.speakers == ("Caroline", "Melanie")
    assert [m.metadata["dia_id"] for m in conv.memories] == ["D1:1", "D1:2", "D2:1", "D10:1"]  # numeric order
    first, image, later = conv.memories[0], conv.memories[1], conv.memories[2]
    assert (first.content, first.role, first.session_id) == ("Hey Mel! Good to see you!", "Caroline", "session_1")
    assert first.event_time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert first.metadata == {"dia_id": "D1:1", "session": 1, "sample_id": "conv-1"}
    assert first.provenance is not None
    assert first.provenance.source is SourceType.import_
    assert image.content == "Look at this painting. [image: a photo of a lake at sunrise]"
    assert later.event_time == datetime(2023, 6, 27, 10, 37, tzinfo=UTC)
    assert later.session_id == "session_2"


def test_read_locomo_file(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample("a"), locomo_sample("b")]))
    assert [c.sample_id for c in read_locomo(path)] == ["a", "b"]
    path.write_text("{not json")
    with pytest.raises(ImportFormatError, match="not JSON"):
        read_locomo(path)
    path.write_text(json.dumps([{"no": "sample"}]))
    with pytest.raises(ImportFormatError, match="not a LoCoMo sample"):
        read_locomo(path)


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"content": "a", "tags": ["x"]}\n\n{"content": "b", "event_time": "2024-01-01T00:00:00Z"}\n')
    a, b = read_jsonl(path)
    assert (a.content, a.tags, b.content) == ("a", ["x"], "b")
    assert b.event_time == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ImportFormatError, match=r"<input>:2: not a memory: content"):
        list(iter_jsonl(['{"content": "ok"}', '{"content": ""}']))
    with pytest.raises(ImportFormatError, match=":1: not a memory"):
        list(iter_jsonl(["not json"]))
