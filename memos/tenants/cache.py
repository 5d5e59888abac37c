"""A short-lived, bounded cache of resolved API keys, so a request with a known key makes no statement to
authenticate.

Contract:
- Only keys found active are cached (an unknown key is looked up every time, so a new key works at once).
- ``forget(key_id)``, called after the revoking transaction commits, refuses the key in this process at once.
  A lookup that started before the revocation and finishes after it cannot put the key back: every
  ``forget`` bumps a generation, and ``put`` drops an entry whose lookup began under an older one.
- Other processes learn of a revocation when the entry expires: within ``ttl_s`` seconds.
- Entries are keyed by the SHA-256 of the secret (the secret itself is never kept).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from memos.tenants.service import Principal

DEFAULT_MAX_ENTRIES = 10_000


class PrincipalCache:
    """Key hash -> ``Principal`` for ``ttl_s`` seconds, at most ``max_entries`` (least recently used out first);
    ``ttl_s == 0`` disables it. Thread-safe (request handlers run in a thread pool)."""

    def __init__(self, ttl_s: float, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """Read before a lookup and hand to ``put``: a ``forget`` in between makes the ``put`` a no-op."""
        return self._generation

    def get(self, key_hash: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            found = self._entries.get(key_hash)
            if found is None:
                return None
            expires, principal = found
            if self._clock() >= expires:
                del self._entries[key_hash]
                return None
            self._entries.move_to_end(key_hash)
            return principal

    def put(self, key_hash: str, principal: Principal, *, generation: int) -> None:
        if self.ttl_s <= 0 or principal.key_id is None:
            return
        with self._lock:
            if generation != self._generation:
                return  # a key was revoked while this one was looked up: it may have been this one
            self._entries[key_hash] = (self._clock() + self.ttl_s, principal)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop every entry of the key (call after the revocation is committed)."""
        with self._lock:
            self._generation += 1
            for key_hash in [h for h, (_, p) in self._entries.items() if p.key_id == key_id]:
                del self._entries[key_hash]

    def __len__(self) -> int:
        return len(self._entries)
