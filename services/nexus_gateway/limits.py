"""Per-connection guards: a token-bucket rate limit and the idempotency window of emits."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexus_mesh.errors import KafkaUnavailableError

if TYPE_CHECKING:
    from aiokafka.structs import RecordMetadata


class TokenBucket:
    """``rate`` events per second with bursts up to ``burst``."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, *, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until :meth:`take` would succeed: what a refused client is told to wait."""
        missing = 1.0 - (self._tokens + (time.monotonic() - self._stamp) * self._rate)
        return max(0.0, missing / self._rate)

    def refilled(self) -> bool:
        """Whether it holds its whole burst again: then it is as good as a new bucket."""
        return self._tokens + (time.monotonic() - self._stamp) * self._rate >= self._burst


UserKey = tuple[str, str]  # campaign, user


class UserRateLimits:
    """One :class:`TokenBucket` per user of a campaign on this gateway, shared by all of the
    user's connections: opening more connections, or reconnecting for a fresh burst, buys
    no more events. A bucket nobody holds is forgotten once it has refilled (a new one would
    be the same), so memory follows the users connected, not every user ever seen."""

    def __init__(self, *, rate: float, burst: int, sweep_every: int = 1024) -> None:
        self._rate = rate
        self._burst = burst
        self._sweep_every = sweep_every
        self._buckets: dict[UserKey, TokenBucket] = {}
        self._holders: dict[UserKey, int] = {}
        self._acquired = 0

    def acquire(self, key: UserKey) -> TokenBucket:
        """The user's bucket, held until :meth:`release`."""
        self._acquired += 1
        if self._acquired % self._sweep_every == 0:
            self._sweep()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate=self._rate, burst=self._burst)
        self._holders[key] = self._holders.get(key, 0) + 1
        return bucket

    def release(self, key: UserKey) -> None:
        left = self._holders.get(key, 0) - 1
        if left > 0:
            self._holders[key] = left
            return
        self._holders.pop(key, None)
        if self._buckets[key].refilled():
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self) -> None:
        for key in [k for k, b in self._buckets.items() if k not in self._holders and b.refilled()]:
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class AckRecord:
    topic: str
    partition: int
    offset: int


IdempotencyKey = tuple[str, str, str]  # campaign, user, event_id
# (time, future) of a write in flight, or (time, topic, partition, offset) of a confirmed
# one: flat, so that one collection is enough for the collector to stop tracking it.
_Entry = tuple[float, asyncio.Future[AckRecord]] | tuple[float, str, int, int]


class IdempotencyWindow:
    """Remembers recent emits so a resent ``event_id`` gets its original ack, not a new record.

    An entry is either the ack of a finished write or the future of one in flight, so a
    resend racing the original waits for it instead of writing twice. Entries leave after
    ``window_s`` or when more than ``max_entries`` are held; beyond that window, services
    deduplicate by ``event_id`` (DESIGN.md section 7).

    A settled entry is kept as a tuple of strings and numbers, which the garbage collector
    stops tracking: a full window (100,000 entries by default) would otherwise add some
    400,000 objects to every full collection, each a pause of the whole gateway
    (docs/benchmarks.md, idempotency window).
    """

    def __init__(
        self,
        *,
        window_s: float,
        max_entries: int,
        on_early_eviction: Callable[[], None] | None = None,
    ) -> None:
        self._window_s = window_s
        self._max_entries = max_entries
        self._entries: OrderedDict[IdempotencyKey, _Entry] = OrderedDict()
        # Told of each entry pushed out by the bound before its window ended: a resend of
        # that event would then be written again (operators raise max_entries).
        self._on_early_eviction = on_early_eviction

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: IdempotencyKey) -> asyncio.Future[AckRecord] | None:
        self._expire()
        entry = self._entries.get(key)
        if entry is None:
            return None
        if len(entry) == 2:
            return entry[1]
        done: asyncio.Future[AckRecord] = asyncio.get_running_loop().create_future()
        done.set_result(AckRecord(*entry[1:]))
        return done

    def settle(
        self, key: IdempotencyKey, future: asyncio.Future[AckRecord], record: AckRecord
    ) -> None:
        """The write of ``key`` is confirmed: answer whoever waits, keep only the ack."""
        if not future.done():
            future.set_result(record)
        entry = self._entries.get(key)
        if entry is not None and entry[1] is future:
            self._entries[key] = (entry[0], record.topic, record.partition, record.offset)

    def begin(self, key: IdempotencyKey) -> asyncio.Future[AckRecord]:
        future: asyncio.Future[AckRecord] = asyncio.get_running_loop().create_future()
        if self._max_entries > 0 and self._window_s > 0:
            now = time.monotonic()
            self._entries[key] = (now, future)
            self._entries.move_to_end(key)
            horizon = now - self._window_s
            while len(self._entries) > self._max_entries:
                _, evicted = self._entries.popitem(last=False)
                if evicted[0] >= horizon and self._on_early_eviction is not None:
                    self._on_early_eviction()
        return future

    def fail(
        self, key: IdempotencyKey, future: asyncio.Future[AckRecord], exc: BaseException
    ) -> None:
        """A failed write is forgotten: the client's retry with the same id must write."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] is future:
            del self._entries[key]
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
                error = KafkaUnavailableError(f"write failed: {done.exception()!r}")
                self.fail(key, future, error)
            else:
                meta = done.result()
                record = AckRecord(topic=meta.topic, partition=meta.partition, offset=meta.offset)
                self.settle(key, future, record)

        delivery.add_done_callback(settled)

    def _expire(self) -> None:
        horizon = time.monotonic() - self._window_s
        while self._entries:
            stamp = next(iter(self._entries.values()))[0]
            if stamp >= horizon:
                break
            self._entries.popitem(last=False)
