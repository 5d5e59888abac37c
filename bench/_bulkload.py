"""A fast loader for the large sizes of ``ingest_search.py``: precomputed vectors written with binary COPY.

Embedding a million texts takes about 80 minutes at ~200 texts/s on this machine, so ``--loader copy`` does:

1. **Real memories through the API.** The memories the queries paraphrase, plus the first ``real`` facts,
   are ingested with ``POST /v1/cubes/{id}/memories`` while the HNSW index exists: the service embeds and
   writes them (heads, versions, provenance, text statistics) itself. Every query's target is one of them.
2. **Filler memories by COPY.** The other facts keep their generated text (so BM25 and the cube's text
   statistics see real vocabulary), but their vectors are derived, not embedded: a random blend
   ``a * u + (1 - a) * v`` (``a`` uniform in 0.2-0.8, re-normalised) of two real memories' embeddings of the
   same topic, read back from the database. The blends lie between real MiniLM points of one topic, so the
   corpus stays clustered the way notes are. A first version added isotropic Gaussian noise to one real
   vector instead (cosine 0.8-0.95 to it): at 1M that corpus behaved like random vectors around each real
   point (HNSW recall@10 0.32-0.40, the queries' own targets crowded out of the exact top 10), so figures
   from it say nothing about real data. What neither reproduces: a filler's vector does not encode its own
   text, so fillers are neighbours for the HNSW graph and the scans, not retrieval answers.
3. Rows are written by the schema owner ``memos_owner`` (the role migrations run as; it bypasses row-level
   security, which a bulk import into one known cube needs no check from), in the shape the service writes:
   every column of the head and of its first version is copied from a memory the API just wrote, except
   the per-row ones (id, content, metadata, tags, vector, times). The text-statistics trigger runs for each
   COPY statement, so BM25's document frequencies include the fillers.
4. Before the COPY the HNSW and GIN indexes are dropped; afterwards they are built again with their stored
   definitions (HNSW with the ``m`` / ``ef_construction`` asked for) under a raised ``maintenance_work_mem``,
   and the build is timed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from _synthetic import Fact

# Rebuilt after the COPY rather than maintained row by row (the GIN on versions' provenance included).
REBUILT = ("ix_memories_embedding_hnsw", "ix_memories_tsv", "ix_memories_tags", "ix_memory_versions_provenance")
COPY_CHUNK = 50_000


@dataclass
class LoadStats:
    real: int = 0
    real_s: float = 0.0
    copied: int = 0
    copy_s: float = 0.0
    index_s: dict[str, float] = field(default_factory=dict)
    parallel_workers: int = 0
    maintenance_work_mem: str = ""


def _cols(conn: Any, table: str) -> list[tuple[str, str]]:
    """(name, type) of the table's writable columns in order (generated ones left out)."""
    rows = conn.execute(
        "SELECT a.attname, CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN e.typname || '[]' ELSE t.typname END"
        " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON e.oid = t.typelem"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
        " ORDER BY a.attnum", (table,)).fetchall()
    return [(r[0], r[1]) for r in rows]


def _template(conn: Any, table: str, where: str, arg: Any, cols: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A row the service wrote, its JSON values wrapped for COPY."""
    from psycopg.types.json import Jsonb

    names = ", ".join(f'"{c}"' for c, _ in cols)
    row = conn.execute(f"SELECT {names} FROM {table} WHERE {where} LIMIT 1", (arg,)).fetchone()  # noqa: S608
    if row is None:
        raise RuntimeError(f"no {table} row written by the service to copy the shape from")
    return {c: Jsonb(v) if t == "jsonb" and v is not None else v for (c, t), v in zip(cols, row, strict=True)}


def derived_vectors(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit blends ``a * first + (1 - a) * second`` row by row, ``a`` uniform in 0.2-0.8."""
    a = rng.uniform(0.2, 0.8, size=(first.shape[0], 1)).astype(np.float32)
    out = a * first + (1 - a) * second
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def _index_defs(conn: Any) -> dict[str, str]:
    rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('memories', 'memory_versions')"
                        " AND indexname = ANY(%s)", (list(REBUILT),)).fetchall()
    return {r[0]: r[1] for r in rows}


def hnsw_def(m: int, ef_construction: int) -> str:
    return ("CREATE INDEX ix_memories_embedding_hnsw ON public.memories USING hnsw (embedding vector_cosine_ops)"
            f" WITH (m='{m}', ef_construction='{ef_construction}')")


def copy_fillers(
    uri: str, *, cube_id: str, facts: Sequence[Fact], filler_idx: Sequence[int], m: int, ef_construction: int,
    maintenance_work_mem: str, seed: int, log: Any = print,
) -> tuple[dict[int, str], LoadStats]:
    """COPY the facts at ``filler_idx`` into the cube (after its real memories were ingested through the API),
    then rebuild the dropped indexes. Returns fact index -> memory id, and the timings."""
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    st = LoadStats()
    rng = np.random.default_rng(seed)
    ids: dict[int, str] = {}
    with psycopg.connect(uri, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("SET ROLE memos_owner")
        mcols, vcols = _cols(conn, "memories"), _cols(conn, "memory_versions")
        vcols = [(c, t) for c, t in vcols if c != "id"]  # bigserial
        head = _template(conn, "memories", "cube_id = %s", cube_id, mcols)
        version = _template(conn, "memory_versions", "memory_id = %s", head["id"], vcols)
        # Real vectors by topic, the bases of the derived ones.
        by_topic: dict[str, list[np.ndarray]] = {}
        for topic, vec in conn.execute("SELECT metadata->>'topic', embedding FROM memories WHERE cube_id = %s",
                                       (cube_id,)):
            by_topic.setdefault(topic, []).append(np.asarray(vec.to_numpy(), dtype=np.float32))
        bases = {t: np.stack(v) for t, v in by_topic.items()}
        defs = _index_defs(conn)
        for name in defs:
            conn.execute(f"DROP INDEX {name}")
        log(f"   dropped {', '.join(defs)}; COPY of {len(filler_idx):,} memories and their versions ...")
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        mtypes = [t for _, t in mcols]
        vtypes = [t for _, t in vcols]
        for start in range(0, len(filler_idx), COPY_CHUNK):
            part = filler_idx[start:start + COPY_CHUNK]
            topics = [facts[i].topic for i in part]
            first = np.empty((len(part), 384), dtype=np.float32)
            second = np.empty((len(part), 384), dtype=np.float32)
            for topic in set(topics):
                rows = [j for j, x in enumerate(topics) if x == topic]
                pool = bases[topic]
                first[rows] = pool[rng.integers(0, len(pool), size=len(rows))]
                second[rows] = pool[rng.integers(0, len(pool), size=len(rows))]
            vecs = derived_vectors(first, second, rng)
            heads: list[tuple[Any, ...]] = []
            versions: list[tuple[Any, ...]] = []
            for j, i in enumerate(part):
                f = facts[i]
                mid = uuid.uuid4()
                ids[i] = str(mid)
                at = now + timedelta(microseconds=start + j)
                meta = {"topic": f.topic, "person": f.person}
                own = {"id": mid, "content": f.content, "metadata": Jsonb(meta),
                       "tags": [f.topic], "embedding": vecs[j], "created_at": at, "updated_at": at}
                heads.append(tuple(own.get(c, head[c]) for c, _ in mcols))
                vown = {"memory_id": mid, "content": f.content, "metadata": own["metadata"], "tags": [f.topic],
                        "valid_from": at}
                versions.append(tuple(vown.get(c, version[c]) for c, _ in vcols))
            with conn.transaction(), conn.cursor() as cur:
                _copy(cur, "memories", mcols, mtypes, heads)
                _copy(cur, "memory_versions", vcols, vtypes, versions)
            done = start + len(part)
            log(f"   copied {done:,} ({done / (time.perf_counter() - t0):,.0f} rows/s)")
        st.copied, st.copy_s = len(filler_idx), time.perf_counter() - t0
        conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        st.maintenance_work_mem = maintenance_work_mem
        st.parallel_workers = int(conn.execute("SHOW max_parallel_maintenance_workers").fetchone()[0])  # type: ignore[index]
        for name, ddl in defs.items():
            if name == "ix_memories_embedding_hnsw":
                ddl = hnsw_def(m, ef_construction)
            log(f"   building {name} ...")
            t = time.perf_counter()
            conn.execute(ddl)
            st.index_s[name] = time.perf_counter() - t
            log(f"   {name}: {st.index_s[name]:.1f}s")
    return ids, st



def _copy(cur: Any, table: str, cols: Sequence[tuple[str, str]], types: Sequence[str],
          rows: Iterator[tuple[Any, ...]] | list[tuple[Any, ...]]) -> None:
    names = ", ".join(f'"{c}"' for c, _ in cols)
    with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(list(types))
        for r in rows:
            cp.write_row(r)
