"""The planner settings every pooled connection carries (memcube.db.make_engine).

The plan they buy (a 2,000-memory cube's nearest neighbours through the HNSW index rather than an exact scan that
reads every row's vector out of TOAST) depends on the table's statistics, which a rolled-back test transaction
cannot give the planner (ANALYZE needs the table's owner and would not see the transaction's rows); it is checked
with EXPLAIN (ANALYZE, BUFFERS) in bench/profile_search.py --explain."""

from __future__ import annotations

from sqlalchemy import Engine, text

from memcube.db import HNSW_DEFAULTS, RANDOM_PAGE_COST


def test_pooled_connections_carry_the_planner_defaults(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        row = conn.execute(text("SELECT current_setting('random_page_cost') AS rpc,"
                                " current_setting('hnsw.ef_search') AS ef,"
                                " current_setting('hnsw.iterative_scan') AS it")).one()
    assert float(row.rpc) == float(RANDOM_PAGE_COST)
    assert (int(row.ef), row.it) == HNSW_DEFAULTS
