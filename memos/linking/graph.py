"""The cube's link graph for the API: a bounded set of nodes, the edges among them, and communities.

networkx is the analysis tool, not the store: the graph is rebuilt from ``memory_links`` per request.
Communities: Louvain (Blondel et al., 2008) on the undirected, strength-weighted graph, with a fixed seed so
the same graph gives the same answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import networkx as nx
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, MemoryLink
from memcube.repository import links as repo

SEED = 42
# Nodes per graph request: Louvain and the edge query grow with it, and a request must stay bounded whatever
# the cube's size (docs/api.md, "Limits").
MAX_NODES = 500


def cube_graph(session: Session, cube: Cube, *, limit: int) -> schemas.Graph:
    """At most ``limit`` (capped at ``MAX_NODES``) live memories, the most linked first."""
    limit = min(limit, MAX_NODES)
    nodes = repo.graph_nodes(session, cube.id, limit=limit + 1)
    truncated = len(nodes) > limit
    nodes = nodes[:limit]
    edges = repo.edges_among(session, [m.id for m in nodes])
    g, communities = louvain([m.id for m in nodes], edges)
    community_of: dict[uuid.UUID, int] = {mid: i for i, c in enumerate(communities) for mid in c}
    return schemas.Graph(
        cube_id=cube.id,
        nodes=[
            schemas.GraphNode(id=m.id, content=m.content, tags=list(m.tags or []), keywords=list(m.keywords or []),
                              context=m.context, community=community_of.get(m.id, -1), degree=int(g.degree(m.id)))
            for m in nodes
        ],
        edges=[schemas.GraphEdge(source=e.source_id, target=e.target_id, type=e.type, strength=e.strength,
                                 reason=e.reason) for e in edges],
        communities=communities,
        truncated=truncated,
    )


def louvain(node_ids: Sequence[uuid.UUID], edges: Sequence[MemoryLink]) -> tuple[nx.Graph, list[list[uuid.UUID]]]:
    """The undirected, strength-weighted graph of these nodes and its Louvain communities, largest first."""
    g = nx.Graph()
    g.add_nodes_from(node_ids)
    for e in edges:
        # Parallel typed edges between one pair add up into one undirected weight.
        w = g.get_edge_data(e.source_id, e.target_id, {}).get("weight", 0.0)
        g.add_edge(e.source_id, e.target_id, weight=w + max(e.strength, 0.01))
    communities = sorted(
        (sorted(c, key=str) for c in nx.community.louvain_communities(g, weight="weight", seed=SEED)),
        key=lambda c: (-len(c), str(c[0])),
    ) if len(g) else []
    return g, communities


def memory_links(session: Session, memory_id: uuid.UUID) -> list[schemas.Link]:
    out: list[schemas.Link] = []
    for link in repo.links_of(session, memory_id):
        outgoing = link.source_id == memory_id
        out.append(schemas.Link(
            id=link.id, type=link.type, direction="out" if outgoing else "in",
            other_id=link.target_id if outgoing else link.source_id, source_id=link.source_id,
            target_id=link.target_id, strength=link.strength, reason=link.reason, created_at=link.created_at,
        ))
    return out



