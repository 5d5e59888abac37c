"""The BM25 statistics the triggers keep on memories: a change of text or speaker is folded in, any other update
(access counts, heat, status bookkeeping) leaves them as they were, and a delete takes the memory out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.models import CubeLexeme, CubeRole, CubeTextStats, Memory
from memcube.repository.memories import add_access_counts
from tests.api.helpers import add

Auth = dict[str, str]


def stats(sessions: sessionmaker[Session], cube_id: str) -> tuple[dict[str, int], tuple[int, int], dict[str, int]]:
    cid = uuid.UUID(cube_id)
    with tenant_session(sessions, SYSTEM) as s:
        lexemes = {lx: df for lx, df in s.execute(select(CubeLexeme.lexeme, CubeLexeme.df)
                                                  .where(CubeLexeme.cube_id == cid)) if df}
        text = s.execute(select(CubeTextStats.docs, CubeTextStats.total_len).where(CubeTextStats.cube_id == cid)).one()
        roles = {r: n for r, n in s.execute(select(CubeRole.role, CubeRole.n).where(CubeRole.cube_id == cid)) if n}
    return lexemes, (int(text[0]), int(text[1])), roles


def test_the_statistics_follow_text_and_speaker_only(client: TestClient, sessions: sessionmaker[Session],
                                                     auth: Auth, cube_id: str) -> None:
    otter, heron = add(client, cube_id, auth, "Otters hold hands while sleeping.", "Herons hunt fish at dawn.",
                       role="Ana")
    lexemes, text, roles = stats(sessions, cube_id)
    assert lexemes["otter"] == 1
    assert lexemes["heron"] == 1
    assert text[0] == 2
    assert roles == {"Ana": 2}

    # Updates that touch neither the text nor the speaker: nothing moves.
    with tenant_session(sessions, SYSTEM) as s:
        add_access_counts(s, {uuid.UUID(otter["id"]): 3, uuid.UUID(heron["id"]): 1}, datetime.now(UTC))
        s.execute(update(Memory).where(Memory.cube_id == uuid.UUID(cube_id)).values(heat=2.5))
    assert stats(sessions, cube_id) == (lexemes, text, roles)

    # A new text: the old lexemes out, the new in.
    r = client.patch(f"/v1/memories/{otter['id']}", json={"content": "Sea otters use rocks as tools."}, headers=auth)
    assert r.status_code == 200, r.text
    lexemes, text, roles = stats(sessions, cube_id)
    assert "hand" not in lexemes
    assert lexemes["rock"] == 1
    assert lexemes["otter"] == 1
    assert text[0] == 2

    # A new speaker, through a direct update (as consolidation's attribution does).
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(update(Memory).where(Memory.id == uuid.UUID(heron["id"])).values(role="Bo"))
    assert stats(sessions, cube_id)[2] == {"Ana": 1, "Bo": 1}
