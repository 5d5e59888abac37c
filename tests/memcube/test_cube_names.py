"""Cube names are unique per tenant even under concurrent creates (a committed database, two sessions)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from memcube.db import SYSTEM, make_engine, make_session_factory, set_tenant
from memcube.models import Cube
from memcube.repository import cubes as cubes_repo
from memcube.repository import tenants as tenants_repo
from tests.conftest import CONTEXT_KEY


def test_concurrent_creates_of_one_name_give_one_cube(make_database: Callable[[str], str]) -> None:
    engine = make_engine(make_database("memos_cube_names"), pool_size=2)
    sessions = make_session_factory(engine, CONTEXT_KEY)
    try:
        with sessions() as s:
            set_tenant(s, SYSTEM)
            tenant_id = tenants_repo.create_tenant(s, "acme").id
            s.commit()

        first = sessions()
        set_tenant(first, tenant_id)
        assert cubes_repo.create_cube(first, tenant_id, "notes", None) is not None  # not committed yet

        second_result: list[Cube | None] = []

        def second() -> None:
            with sessions() as s:
                set_tenant(s, tenant_id)
                # Waits on the first transaction's index entry, then sees the conflict.
                second_result.append(cubes_repo.create_cube(s, tenant_id, "notes", None))
                s.commit()

        t = threading.Thread(target=second)
        t.start()
        t.join(timeout=0.5)  # not a timing assertion: gives the second insert time to block
        first.commit()
        first.close()
        t.join()
        assert second_result == [None]

        with sessions() as s:
            set_tenant(s, tenant_id)
            assert [c.name for c in cubes_repo.list_visible_cubes(s)] == ["notes"]
            # Another tenant may use the same name.
            set_tenant(s, SYSTEM)
            other = tenants_repo.create_tenant(s, "bravo").id
            set_tenant(s, other)
            assert cubes_repo.create_cube(s, other, "notes", None) is not None
            s.rollback()
    finally:
        engine.dispose()
