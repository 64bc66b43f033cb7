"""The idempotency window: a resent ``event_id`` gets its original ack, not a second record.

An entry is the future of a write in flight (or in doubt: answered ``unconfirmed``, the
producer still retrying it), or the ack of a confirmed one. A resend racing the first write
waits for it instead of writing twice.

What may leave, and when, is what keeps the promise fair:

- A write in flight or in doubt stays until the producer settles it, whatever the bound or
  the time: forgetting it would let the resend that ``unconfirmed`` asks for write a second
  record once the first lands. The producer's own buffer bounds how many there are.
- A confirmed write stays ``window_s`` from its confirmation. Each user of a campaign holds
  at most ``per_user`` of them (``NEXUS_GATEWAY_IDEMPOTENCY_PER_USER``, by default what the
  rate limit, which is per user of a campaign too, lets through in one window and one
  produce timeout): past it, that user's own oldest eighth in that campaign leaves, so one
  user sending fresh ids as fast as allowed cannot push out another's.
- Past ``max_entries`` confirmed writes in all, the oldest leaves, whoever sent it; one that
  leaves before its window ends is reported (operators raise the bound).

Beyond the window, services deduplicate by ``event_id`` (DESIGN.md section 7).

A confirmed entry is kept as a tuple of strings and numbers, which the garbage collector
stops tracking: a full window (100,000 entries by default) would otherwise add some 200,000
objects (a future and a tuple each) to every full collection, each a pause of the whole
gateway (docs/benchmarks.md, idempotency window).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from nexus_mesh.errors import KafkaUnavailableError

if TYPE_CHECKING:
    from aiokafka.structs import RecordMetadata


@dataclass(frozen=True, slots=True)
class AckRecord:
    topic: str
    partition: int
    offset: int


IdempotencyKey = tuple[str, str, str]  # campaign, user, event_id
# (confirmed at, topic, partition, offset): flat, so the collector stops tracking it.
_Confirmed = tuple[float, str, int, int]


def default_per_user(
    *, rate_per_s: float, burst: int, window_s: float, produce_timeout_s: float
) -> int:
    """What one user of a campaign can have confirmed within a window, at most: the rate
    limit's burst and rate over the window, plus one produce timeout, since the window runs
    from each ack and writes held up by Kafka can all be confirmed at once."""
    return math.ceil(rate_per_s * (window_s + produce_timeout_s)) + burst


class IdempotencyWindow:
    """Recent emits by key; see the module's docstring for what stays and for how long."""

    def __init__(
        self,
        *,
        window_s: float,
        max_entries: int,
        per_user: int | None = None,
        on_early_eviction: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._max_entries = max_entries
        self._per_user = max_entries if per_user is None else min(per_user, max_entries)
        self._enabled = max_entries > 0 and window_s > 0
        self._pending: dict[IdempotencyKey, asyncio.Future[AckRecord]] = {}
        self._confirmed: OrderedDict[IdempotencyKey, _Confirmed] = OrderedDict()
        # Each (campaign, user)'s confirmed keys, oldest first, to evict a user's own. Plain
        # dicts, not OrderedDicts: holding only untracked tuples, the collector stops tracking
        # them too (thousands of users' OrderedDicts tripled a full collection's pause). A
        # plain dict's first key steps over every key deleted before it (~110 us at 100,000),
        # so a user past the bound loses their oldest eighth at once, one such step per batch.
        self._by_user: dict[tuple[str, str], dict[IdempotencyKey, None]] = {}
        self._user_batch = max(1, self._per_user // 8)
        # Told of each entry pushed out before its window ended: a resend of that event
        # would then be written again.
        self._on_early_eviction = on_early_eviction
        self._clock = clock

    def __len__(self) -> int:
        return len(self._pending) + len(self._confirmed)

    @property
    def pending(self) -> int:
        """Writes in flight or in doubt."""
        return len(self._pending)

    async def wait_settled(self, timeout: float) -> None:
        """Wait (bounded) until the writes in flight or in doubt now are settled, confirmed or
        failed (``pending`` says how many are not)."""
        pending = set(self._pending.values())
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def lookup(self, key: IdempotencyKey) -> asyncio.Future[AckRecord] | None:
        pending = self._pending.get(key)
        if pending is not None:
            return pending
        self._expire()
        entry = self._confirmed.get(key)
        if entry is None:
            return None
        done: asyncio.Future[AckRecord] = asyncio.get_running_loop().create_future()
        done.set_result(AckRecord(*entry[1:]))
        return done

    def begin(self, key: IdempotencyKey) -> asyncio.Future[AckRecord]:
        future: asyncio.Future[AckRecord] = asyncio.get_running_loop().create_future()
        if self._enabled:
            self._forget(key)  # a confirmation older than its window, not yet expired
            self._pending[key] = future
        return future

    def settle(
        self, key: IdempotencyKey, future: asyncio.Future[AckRecord], record: AckRecord
    ) -> None:
        """The write of ``key`` is confirmed: answer whoever waits, keep only the ack."""
        if not future.done():
            future.set_result(record)
        if self._pending.get(key) is not future:
            return
        del self._pending[key]
        self._confirm(key, record)

    def remember(self, key: IdempotencyKey, record: AckRecord) -> None:
        """A write of ``key`` found in Kafka (by a resume's replay), made by another gateway
        or by this one before it restarted: a resend of it gets this ack."""
        if self._enabled and key not in self._pending and key not in self._confirmed:
            self._confirm(key, record)

    def _confirm(self, key: IdempotencyKey, record: AckRecord) -> None:
        self._confirmed[key] = (self._clock(), record.topic, record.partition, record.offset)
        user = key[:2]
        own = self._by_user.get(user)
        if own is None:
            own = self._by_user[user] = {}
        own[key] = None
        if len(own) > self._per_user:
            for oldest in list(islice(own, self._user_batch)):
                self._evict(oldest)
        while len(self._confirmed) > self._max_entries:
            self._evict(next(iter(self._confirmed)))

    def fail(
        self, key: IdempotencyKey, future: asyncio.Future[AckRecord], exc: BaseException
    ) -> None:
        """A failed write is forgotten: the client's retry with the same id must write."""
        if self._pending.get(key) is future:
            del self._pending[key]
        if not future.done():
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting

    def settle_later(
        self,
        key: IdempotencyKey,
        future: asyncio.Future[AckRecord],
        delivery: asyncio.Future[RecordMetadata],
    ) -> None:
        """Resolve ``future`` from a producer delivery still in flight (a write in doubt)."""

        def settled(done: asyncio.Future[RecordMetadata]) -> None:
            if future.done():
                return
            if done.cancelled() or done.exception() is not None:
                # A cancelled delivery (a producer stopped with the write still queued) has
                # no exception to ask for: asking raises, and the entry would never settle.
                why = "cancelled" if done.cancelled() else repr(done.exception())
                error = KafkaUnavailableError(f"write failed: {why}")
                self.fail(key, future, error)
            else:
                meta = done.result()
                record = AckRecord(topic=meta.topic, partition=meta.partition, offset=meta.offset)
                self.settle(key, future, record)

        delivery.add_done_callback(settled)

    def _evict(self, key: IdempotencyKey) -> None:
        confirmed_at = self._confirmed[key][0]
        self._forget(key)
        if confirmed_at >= self._clock() - self._window_s and self._on_early_eviction:
            self._on_early_eviction()

    def _forget(self, key: IdempotencyKey) -> None:
        if self._confirmed.pop(key, None) is None:
            return
        user = key[:2]
        own = self._by_user[user]
        del own[key]
        if not own:
            del self._by_user[user]

    def _expire(self) -> None:
        horizon = self._clock() - self._window_s
        confirmed = self._confirmed
        while confirmed:
            key, entry = next(iter(confirmed.items()))
            if entry[0] >= horizon:
                break
            self._forget(key)
