"""Parse files into ``MemoryCreate`` items: JSON lines, and LoCoMo-format conversations.

Pure functions (no database, no network), shared by ``memos import`` and the LoCoMo benchmark.

LoCoMo (Maharana et al., ACL 2024, https://snap-research.github.io/locomo/) is a list of samples, each with a
``sample_id`` and a ``conversation`` holding ``speaker_a``, ``speaker_b``, and per session ``N`` the turns
``session_N`` (``speaker``, ``dia_id``, ``text``, optional image ``blip_caption``) and their date
``session_N_date_time`` ("1:56 pm on 8 May, 2023"). One turn becomes one memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dateutil import parser as dateparser
from pydantic import ValidationError

from memcube.schemas import MemoryCreate, Provenance, SourceType

_SESSION = re.compile(r"session_(\d+)")


class ImportFormatError(ValueError):
    """The input is not in the expected format; the message says where."""


# ---------------------------------------------------------------- JSON lines
def iter_jsonl(lines: Iterable[str], *, source: str = "<input>") -> Iterator[MemoryCreate]:
    """One ``MemoryCreate`` JSON object per line; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield MemoryCreate.model_validate_json(line)
        except ValidationError as exc:
            raise ImportFormatError(f"{source}:{number}: not a memory: {_first_error(exc)}") from exc


def read_jsonl(path: Path) -> list[MemoryCreate]:
    with path.open(encoding="utf-8") as fh:
        return list(iter_jsonl(fh, source=str(path)))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


# ---------------------------------------------------------------- LoCoMo
@dataclass
class LocomoConversation:
    """One LoCoMo sample: its id, its two speakers, and one memory per turn in session order."""

    sample_id: str
    speakers: tuple[str, str]
    memories: list[MemoryCreate] = field(default_factory=list)


def parse_locomo_datetime(text: str) -> datetime:
    """Parse a LoCoMo session date such as ``"1:56 pm on 8 May, 2023"`` (read as UTC)."""
    try:
        parsed = dateparser.parse(text.replace(" on ", " "))
    except (ValueError, OverflowError) as exc:
        raise ImportFormatError(f"not a date: {text!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def turn_content(turn: Mapping[str, Any]) -> str:
    """The turn's text, with the caption of a shared image (the dataset's stand-in for the image itself)."""
    text = str(turn.get("text") or "").strip()
    caption = turn.get("blip_caption")
    return f"{text} [image: {caption}]".strip() if caption else text


def locomo_conversation(sample: Mapping[str, Any]) -> LocomoConversation:
    """One LoCoMo sample as memories: content, event_time = the session's date, role = the speaker."""
    try:
        sample_id = str(sample["sample_id"])
        conv: Mapping[str, Any] = sample["conversation"]
        speakers = (str(conv.get("speaker_a", "")), str(conv.get("speaker_b", "")))
    except (KeyError, TypeError) as exc:
        raise ImportFormatError(f"not a LoCoMo sample (missing {exc})") from exc
    out = LocomoConversation(sample_id=sample_id, speakers=speakers)
    sessions = sorted(int(m.group(1)) for key in conv if (m := _SESSION.fullmatch(key)))
    for n in sessions:
        date_text = conv.get(f"session_{n}_date_time")
        when = parse_locomo_datetime(date_text) if date_text else None
        session_id = f"session_{n}"
        for turn in conv[session_id] or []:
            content = turn_content(turn)
            if not content:
                continue  # nothing to remember (an image without caption or text)
            out.memories.append(MemoryCreate(
                content=content,
                event_time=when,
                role=turn.get("speaker"),
                session_id=session_id,
                metadata={"dia_id": turn.get("dia_id"), "session": n, "sample_id": sample_id},
                # No actor: the server names the importing key (a client may not assert another).
                provenance=Provenance(source=SourceType.import_, session_id=session_id,
                                      note=f"LoCoMo {sample_id} {turn.get('dia_id')}"),
            ))
    return out


def locomo_conversations(data: Any) -> list[LocomoConversation]:
    """All samples of a parsed LoCoMo file (a list of samples, or a single sample object)."""
    samples = data if isinstance(data, list) else [data]
    return [locomo_conversation(s) for s in samples]


def read_locomo(path: Path) -> list[LocomoConversation]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: not JSON: {exc}") from exc
    return locomo_conversations(data)
