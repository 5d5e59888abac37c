"""Set-based version writes (memos.memories.versions.VersionBatch), as linking and consolidation use them:
the same history, head and search index as one write per version."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memcube.repository import memories as repo
from memos.embedding import Embedder
from memos.memories.service import revise, set_status
from memos.memories.versions import VersionBatch
from tests.api.helpers import add, search
from tests.consolidation.helpers import Auth

ACTOR = "system:test"


def _history(client: TestClient, auth: Auth, memory_id: str) -> list[dict[str, object]]:
    r = client.get(f"/v1/memories/{memory_id}/history", headers=auth)
    assert r.status_code == 200, r.text
    versions: list[dict[str, object]] = r.json()["versions"]
    return versions


def test_batch_writes_repeated_heads_as_consecutive_versions(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], embedder: Embedder,
) -> None:
    a, b, c = add(client, cube_id, auth, "Alice lives in Paris.", "Bob plays chess on Sundays.",
                  "Carol grows tomatoes.")
    with sessions() as s:
        set_tenant(s, SYSTEM)
        heads = {m.id: m for m in repo.get_memories(s, [uuid.UUID(x["id"]) for x in (a, b, c)])}
        ha, hb, hc = (heads[uuid.UUID(x["id"])] for x in (a, b, c))
        prov = {"source": "system", "actor": ACTOR}
        batch = VersionBatch(s, actor=ACTOR)
        revise(s, ha, actor=ACTOR, reason="tags", provenance=prov, tags=["city"], batch=batch)
        revise(s, hb, actor=ACTOR, reason="context", provenance=prov, context="About Bob", batch=batch)
        revise(s, ha, actor=ACTOR, reason="more tags", provenance=prov, tags=["city", "home"], batch=batch)
        new_text = "Carol grows tomatoes and basil on her balcony."
        revise(s, hc, actor=ACTOR, reason="content", provenance=prov, content=new_text,
               embedding=embedder.embed_one(new_text), batch=batch)
        set_status(s, hb, "deleted", actor=ACTOR, reason="retracted", batch=batch)
        assert len(batch) == 5
        assert batch.write() == 5
        assert batch.write() == 0  # written once
        for h in (ha, hb, hc):  # the session holds nothing more to flush for them
            assert not any(attr.history.has_changes() for attr in inspect(h).attrs)
        s.commit()

    ha_versions = _history(client, auth, a["id"])
    assert [v["version"] for v in ha_versions] == [1, 2, 3]
    assert [v["reason"] for v in ha_versions[1:]] == ["tags", "more tags"]
    assert [v["tags"] for v in ha_versions[1:]] == [["city"], ["city", "home"]]
    assert all(v["actor"] == ACTOR for v in ha_versions[1:])
    # Each version is closed exactly when the next one starts; only the last is open.
    for earlier, later in zip(ha_versions, ha_versions[1:], strict=False):
        assert earlier["valid_to"] is not None
        assert datetime.fromisoformat(str(earlier["valid_to"])) == datetime.fromisoformat(str(later["valid_from"]))
        assert datetime.fromisoformat(str(later["valid_from"])) > datetime.fromisoformat(str(earlier["valid_from"]))
    assert ha_versions[-1]["valid_to"] is None

    hb_versions = _history(client, auth, b["id"])
    assert [(v["version"], v["status"]) for v in hb_versions] == [(1, "active"), (2, "active"), (3, "deleted")]
    got_a = client.get(f"/v1/memories/{a['id']}", headers=auth).json()
    assert (got_a["version"], got_a["tags"]) == (3, ["city", "home"])
    got_b = client.get(f"/v1/memories/{b['id']}", headers=auth).json()
    assert (got_b["version"], got_b["status"], got_b["context"]) == (3, "deleted", "About Bob")

    # The new content is what the search index holds now: its full-text vector (computed by PostgreSQL from
    # the content the batch wrote) and the embedding written with it.
    assert [h["memory"]["id"] for h in search(client, cube_id, auth, "basil", mode="lexical")] == [c["id"]]
    dense = search(client, cube_id, auth, "herbs growing on a balcony", mode="dense", top_k=1)
    assert dense[0]["memory"]["id"] == c["id"]
