"""Within one tenant, a consolidated fact may rewrite or retract only what its own speaker said (or, for a
memory with no speaker, what names that speaker), and only with at least the memory's trust. Otherwise the
claim is added beside the memory and linked to it as ``contradicts``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.consolidation.service import LESS_TRUSTED, OTHER_SPEAKER, no_authority
from memos.embedding import Embedder
from tests.consolidation.helpers import TS, Auth, contents, post, run
from tests.consolidation.test_attribution import by_content


@pytest.mark.parametrize(("speaker", "trust", "content", "author", "target_trust", "expected"), [
    ("Alice", 0.7, "Alice works at Initech.", "Alice", 0.7, None),
    ("alice ", 0.7, "Alice works at Initech.", "Alice", 0.5, None),  # names compare without case or spaces
    ("Bob", 0.7, "Alice works at Initech.", "Alice", 0.5, OTHER_SPEAKER),
    ("Alice", 0.5, "Alice works at Initech.", "Alice", 0.7, LESS_TRUSTED),
    ("Alice", 0.5, "Alice lives in Paris.", None, 0.5, None),  # an agent's note that names her
    ("Alina", 0.5, "Alice lives in Paris.", None, 0.5, OTHER_SPEAKER),  # a name is a whole word
    ("Bob", 0.5, "Alice lives in Paris.", None, 0.5, OTHER_SPEAKER),
    (None, 0.5, "Alice lives in Paris.", None, 0.5, OTHER_SPEAKER),
])
def test_no_authority(speaker: str | None, trust: float, content: str, author: str | None, target_trust: float,
                      expected: str | None) -> None:
    assert no_authority(speaker, trust, content, author, target_trust) == expected


def links(client: TestClient, memory_id: str, auth: Auth) -> list[dict[str, Any]]:
    r = client.get(f"/v1/memories/{memory_id}/links", headers=auth)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()["links"]
    return out


def test_another_speaker_cannot_retract_or_rewrite_what_alice_said(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Alice", "I work at Initech."), ("Alice", "I live in Paris."))
    run(sessions, first["job_id"], settings, embedder)
    before = by_content(client, cube_id, auth)
    assert set(before) == {"Alice works at Initech.", "Alice lives in Paris."}

    # Same key, same tenant: a message that only says it is Bob's speaks about Alice.
    second = post(client, cube_id, auth, ("Bob", "Alice no longer works at Initech."),
                  ("Bob", "Alice moved to Berlin last month."))
    decisions = run(sessions, second["job_id"], settings, embedder).result["decisions"]  # type: ignore[index]
    assert [d["action"] for d in decisions] == ["ADD", "ADD"]
    disputed = {d["conflict"]["memory_id"]: d for d in decisions if "conflict" in d}
    assert before["Alice works at Initech."]["id"] in disputed
    for d in disputed.values():
        assert d["conflict"]["why"] == OTHER_SPEAKER
        # The claim links to the memory it disputes; the memory is untouched.
        (link,) = [x for x in links(client, d["memory_id"], auth) if x["type"] == "contradicts"]
        assert link["target_id"] == d["conflict"]["memory_id"]
    after = by_content(client, cube_id, auth)
    for content, memory in before.items():
        assert after[content]["version"] == memory["version"]
        assert after[content]["status"] == "active"
    assert contents(client, cube_id, auth, status="deleted") == []
    assert contents(client, cube_id, auth, status="archived") == []


def test_a_less_trusted_message_does_not_overrule_the_users_own_words(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Alice", "I work at Initech."))  # a user's turn: trust 0.7
    run(sessions, first["job_id"], settings, embedder)
    (memory,) = by_content(client, cube_id, auth).values()
    assert memory["provenance"]["trust"] == 0.7
    # An assistant's turn under Alice's name (trust 0.5) says she quit.
    r = client.post(f"/v1/cubes/{cube_id}/messages", headers=auth, json={"messages": [
        {"role": "assistant", "name": "Alice", "content": "I no longer work at Initech.", "timestamp": TS}]})
    assert r.status_code == 202, r.text
    (d,) = run(sessions, r.json()["job_id"], settings, embedder).result["decisions"]  # type: ignore[index]
    assert d["action"] == "ADD"
    assert d["conflict"] == {"memory_id": memory["id"], "proposed": "UPDATE", "why": LESS_TRUSTED,
                             "created_by_tenant_id": d["conflict"]["created_by_tenant_id"]}
    assert by_content(client, cube_id, auth)["Alice works at Initech."]["version"] == memory["version"]
    # The guard's read-time check leaves the disputed, less trusted claim out of the context.
    r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": "Does Alice work at Initech?"}, headers=auth)
    assert r.status_code == 200, r.text
    assert "disputed" in {d["memory"]["id"]: d["reasons"] for d in r.json()["dropped"]}[d["memory_id"]]
    assert memory["id"] in {m["id"] for m in r.json()["memories"]}
