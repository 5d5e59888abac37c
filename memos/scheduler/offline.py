"""The offline reference a policy's hit rate is compared with: Belady's MIN, computed from the whole trace.

With payloads of one size, evicting the one used farthest in the future (and not admitting a payload whose
next use is farther than every resident's: bypass) is optimal (Belady 1966). With sizes that vary, the optimum
is NP-hard; the usual references are farthest-in-future and its size-aware form, which ranks residents by
distance to next use times size (as in Berger et al., "Practical bounds on optimal caching with variable object
sizes", 2018). ``offline_hits`` runs both and keeps the better, so it is a strong offline reference rather than
a proven upper bound, and reports say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NEVER = 1 << 62


def next_uses(trace: Sequence[str]) -> list[int]:
    """For each position, the position of the same key's next request (``NEVER`` if none)."""
    out = [NEVER] * len(trace)
    seen: dict[str, int] = {}
    for i in range(len(trace) - 1, -1, -1):
        out[i] = seen.get(trace[i], NEVER)
        seen[trace[i]] = i
    return out


def belady_hits(trace: Sequence[str], sizes: Mapping[str, int], budget: int, *, size_aware: bool) -> int:
    """Requests served from memory by an offline policy with ``budget`` bytes (bypass allowed)."""
    upcoming = next_uses(trace)
    held: dict[str, int] = {}  # key -> position of its next request
    used = 0
    hits = 0
    for i, key in enumerate(trace):
        size = sizes[key]
        if key in held:
            hits += 1
            held[key] = upcoming[i]
            continue
        if size > budget:
            continue
        held[key] = upcoming[i]
        used += size
        while used > budget:
            victim = max(held, key=lambda k: (held[k] - i) * (sizes[k] if size_aware else 1))
            used -= sizes[victim]
            del held[victim]
    return hits


def offline_hits(trace: Sequence[str], sizes: Mapping[str, int], budget: int) -> int:
    """The better of farthest-in-future and its size-aware form (see the module docstring)."""
    return max(belady_hits(trace, sizes, budget, size_aware=False),
               belady_hits(trace, sizes, budget, size_aware=True))
