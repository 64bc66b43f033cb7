"""Which event ids a service has already dealt with, in bounded memory.

Delivery is at-least-once: a record is seen again after a crash before its commit, after a
rebalance, or when a producer retried. Remembering recent ``event_id``s turns the common
cases into no-ops. The window is bounded both in entries and in age, so a busy service's
memory stays flat; a duplicate older than the window is handled again, which is why handlers
should still be idempotent where it matters.

The key is whatever the caller makes it: the runner scopes an ``event_id`` by campaign and user,
as the gateway's idempotency does, because clients choose their own ids ("1", "2", ...) and one
tenant's id must not silence another's request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class SeenEvents:
    """A window of recent event keys, bounded in size (oldest out first) and in age."""

    def __init__(
        self,
        *,
        max_entries: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock
        # Insertion order is expiry order, because every entry lives for the same ttl.
        self._expires: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, Hashable):
            return False
        self._expire(self._clock())
        return key in self._expires

    def add(self, key: Hashable) -> None:
        now = self._clock()
        self._expire(now)
        self._expires.pop(key, None)
        self._expires[key] = now + self._ttl_s
        while len(self._expires) > self._max_entries:
            self._expires.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._expires:
            oldest, expires = next(iter(self._expires.items()))
            if expires > now:
                return
            del self._expires[oldest]
