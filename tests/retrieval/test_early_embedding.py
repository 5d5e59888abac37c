"""A search route starts embedding the query before it loads the cube (``service.start_embedding``): the
search then uses that vector when it was started on the text the search embeds, and embeds the right text
itself when it was not (a hybrid plan made with stale speakers), with the same results either way."""

from __future__ import annotations

import uuid
from concurrent.futures import Future

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memcube import schemas
from memcube.db import set_tenant
from memcube.models import Cube
from memos.embedding import Embedder
from memos.retrieval import service
from memos.retrieval.query import plan


class RecordingEmbedder:
    """The real embedder, recording which texts the search asked it to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def embed_one(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return self.inner.embed_one(text)

    def embed_one_async(self, text: str) -> Future[np.ndarray]:
        self.texts.append(text)
        return self.inner.embed_one_async(text)


def _ids(hits: list[service.Hit]) -> list[uuid.UUID]:
    return [h.memory.id for h in hits]


def test_an_early_embedding_is_used_when_it_matches_and_replaced_when_it_does_not(
    client: TestClient, make_tenant: object, sessions: sessionmaker[Session], embedder: Embedder
) -> None:
    tenant_id, auth = make_tenant("early")  # type: ignore[operator]
    cube_id = uuid.UUID(client.post("/v1/cubes", json={"name": "talk"}, headers=auth).json()["id"])
    said = [("Alice", "I love cooking Thai curry on Sundays"), ("Bob", "I cook pasta when I am tired"),
            ("Alice", "My sister lives in Lisbon"), ("Bob", "We hiked in the Alps last summer")]
    resp = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                       json={"memories": [{"content": c, "role": r} for r, c in said]})
    assert resp.status_code == 201, resp.text
    query = "What does Alice like to cook?"
    planned = plan(query, ["Alice", "Bob"]).text
    assert planned != query  # the speaker's name is not embedded

    rec = RecordingEmbedder(embedder)
    with sessions() as session:
        set_tenant(session, tenant_id)
        cube = session.get(Cube, cube_id)
        assert cube is not None
        service._SPEAKERS_SEEN.pop(cube_id, None)  # this process has not searched the cube yet
        req = schemas.SearchRequest(query=query)
        stale = service.start_embedding(cube_id, req, rec)  # type: ignore[arg-type]
        assert stale is not None
        assert stale.text == query
        first = service.search(session, cube, req, embedder=rec, early=stale)  # type: ignore[arg-type]
        assert rec.texts == [query, planned]  # the stale vector was not used: the planned text was embedded

        rec.texts.clear()
        fresh = service.start_embedding(cube_id, req, rec)  # type: ignore[arg-type]
        assert fresh is not None
        assert fresh.text == planned
        again = service.search(session, cube, req, embedder=rec, early=fresh)  # type: ignore[arg-type]
        assert rec.texts == [planned]  # embedded once, before the search
        assert _ids(again) == _ids(first) == _ids(service.search(session, cube, req, embedder=embedder))

        dense = schemas.SearchRequest(query=query, mode="dense")
        rec.texts.clear()
        early = service.start_embedding(cube_id, dense, rec)  # type: ignore[arg-type]
        hits = service.search(session, cube, dense, embedder=rec, early=early)  # type: ignore[arg-type]
        assert rec.texts == [query]
        assert _ids(hits) == _ids(service.search(session, cube, dense, embedder=embedder))
        assert service.start_embedding(cube_id, schemas.SearchRequest(query=query, mode="lexical"), rec) is None  # type: ignore[arg-type]
