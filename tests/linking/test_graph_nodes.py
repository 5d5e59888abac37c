"""The graph's node choice: most linked first, then the newest unlinked, never more than the limit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memcube.models import Cube, Memory, MemoryLink, Tenant
from memcube.repository.links import graph_nodes


def test_most_linked_first_then_newest(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        set_tenant(s, SYSTEM)
        tenant = Tenant(name=f"g-{uuid.uuid4().hex[:6]}")
        s.add(tenant)
        s.flush()
        cube = Cube(tenant_id=tenant.id, name="graph")
        s.add(cube)
        s.flush()
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        mems = [Memory(tenant_id=tenant.id, cube_id=cube.id, content=f"m{i}", created_at=t0 + timedelta(days=i))
                for i in range(6)]
        mems.append(Memory(tenant_id=tenant.id, cube_id=cube.id, content="gone", status="deleted",
                           created_at=t0 + timedelta(days=9)))
        s.add_all(mems)
        s.flush()
        hub, spoke, other = mems[0], mems[1], mems[2]
        s.add_all([MemoryLink(tenant_id=tenant.id, cube_id=cube.id, source_id=a.id, target_id=b.id, type="related")
                   for a, b in [(hub, spoke), (hub, other), (other, hub), (mems[6], spoke)]])
        s.flush()
        # hub: 3 link ends; spoke and other: 2 each (spoke's second from a deleted memory), other the newer.
        names = [m.content for m in graph_nodes(s, cube.id, limit=5)]
        assert names == ["m0", "m2", "m1", "m5", "m4"]
        assert [m.content for m in graph_nodes(s, cube.id, limit=2)] == ["m0", "m2"]
        s.rollback()
