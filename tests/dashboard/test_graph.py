"""The dashboard graph's node choice: the most linked memories, each with its strongest neighbours; bounded."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session, sessionmaker

from api.dashboard import views
from api.dashboard.auth import Viewer
from memcube.db import SYSTEM, set_tenant
from memcube.models import Cube, Memory, MemoryLink, Tenant
from memos.tenants.service import Principal


def test_hubs_come_with_their_strongest_neighbours(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        set_tenant(s, SYSTEM)
        tenant = Tenant(name=f"g-{uuid.uuid4().hex[:6]}")
        s.add(tenant)
        s.flush()
        cube = Cube(tenant_id=tenant.id, name="graph")
        s.add(cube)
        s.flush()
        mem = {name: Memory(tenant_id=tenant.id, cube_id=cube.id, content=name)
               for name in ["A", "B", *(f"a{i}" for i in range(1, 8)), "b1", "b2", "b3", "lonely"]}
        mem["a7"].status = "deleted"
        s.add_all(mem.values())
        s.flush()
        links = [("A", f"a{i}", 1.0 - i / 10) for i in range(1, 8)] + [("b1", "B", 0.9), ("B", "b2", 0.8),
                                                                     ("B", "b3", 0.7), ("a1", "a2", 0.5)]
        s.add_all([MemoryLink(tenant_id=tenant.id, cube_id=cube.id, source_id=mem[a].id, target_id=mem[b].id,
                              type="related", strength=w) for a, b, w in links])
        s.flush()
        set_tenant(s, tenant.id)  # the page reads as the tenant, under row-level security
        viewer = Viewer(principal=Principal(tenant_id=tenant.id), session=s, csrf="")
        name = {m.id: n for n, m in mem.items()}

        chosen = [name[i] for i in views.hub_nodes(viewer, cube.id, limit=8)]
        # A has 7 link ends, B 3 (a1 has 2): A with its 5 strongest neighbours, then B with the strongest of its.
        assert chosen == ["A", "a1", "a2", "a3", "a4", "a5", "B", "b1"]

        data = views.graph_data(viewer, cube.id, limit=8, center=None)
        assert [n["label"] for n in data["nodes"]] == chosen
        assert data["truncated"] is True
        drawn = {(e["source"], e["target"]) for e in data["edges"]}
        assert (str(mem["a1"].id), str(mem["a2"].id)) in drawn  # links among the chosen, not only to hubs
        assert len(drawn) == 7
        assert data["communities"] >= 2

        whole = views.graph_data(viewer, cube.id, limit=50, center=None)
        labels = {n["label"] for n in whole["nodes"]}
        assert labels == {"A", "B", "a1", "a2", "a3", "a4", "a5", "a6", "b1", "b2", "b3"}  # not the deleted a7
        assert whole["truncated"] is False

        around = views.graph_data(viewer, cube.id, limit=3, center=mem["B"].id)
        assert [n["label"] for n in around["nodes"]] == ["B", "b1", "b2"]
        s.rollback()
