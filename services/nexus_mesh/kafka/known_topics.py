"""Which topics the cluster has, learnt without ever creating one.

A Kafka client asks for the metadata of each topic it writes to, and brokers create a topic
so named when ``auto.create.topics.enable`` is on (Kafka's default), with the broker's
partition count and retention; ``nexus topics ensure`` then finds a topic it must not change.
Topic creation is a command, never a side effect of producing (DESIGN.md section 4), so a
write first asks here. The answer comes from a metadata request for *all* topics: it names
no topic, so it cannot create one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection

from nexus_mesh.errors import TopicMissingError


class KnownTopics:
    """Topics seen in the cluster's metadata; a miss lists the cluster's topics again.

    Topics are created rarely and almost never deleted, so a known topic is trusted without
    asking. A miss is answered by a listing that began no earlier than ``recheck_after_s``
    before it: concurrent misses share one listing, and a stream of events for a missing
    topic costs at most one listing per ``recheck_after_s``, not one per event. The price is
    that a topic created just after a listing is seen up to ``recheck_after_s`` late.
    """

    def __init__(
        self, list_topics: Callable[[], Awaitable[Collection[str]]], *, recheck_after_s: float
    ) -> None:
        self._list_topics = list_topics
        self._recheck_after_s = recheck_after_s
        self._names: frozenset[str] = frozenset()
        self._listed_at: float | None = None
        self._lock = asyncio.Lock()

    async def require(self, topic: str) -> None:
        """Return if the cluster has ``topic``; else raise :class:`TopicMissingError`.

        Errors of the listing itself (the broker is unreachable) propagate as they are.
        """
        if topic in self._names:
            return
        await self._refresh(missed_at=time.monotonic())
        if topic not in self._names:
            raise TopicMissingError(topic)

    async def _refresh(self, *, missed_at: float) -> None:
        async with self._lock:
            if self._listed_at is not None and self._listed_at >= missed_at - self._recheck_after_s:
                return
            # Stamped with its start: the answer may lack a topic created while it was asked.
            started = time.monotonic()
            self._names = frozenset(await self._list_topics())
            self._listed_at = started
