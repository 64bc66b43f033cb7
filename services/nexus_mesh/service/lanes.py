"""One owned partition's records, from fetch to commit, each campaign's in order.

Kafka orders a partition, but the mesh promises order per campaign only (DESIGN §4: all
events of one campaign are in one partition, in order), and a partition holds many
campaigns. A record may therefore start as soon as every earlier record of its campaign
(its record key) is dealt with, whatever the partition's other campaigns are doing: one
campaign's slow handler holds back that campaign alone. What may be committed is the
partition's oldest record not yet dealt with: everything before it is done, whichever order
it finished in. Everything dealt with after it is handled again if the instance dies first,
so a lane starts no record ``max_ahead`` offsets or more past it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from aiokafka import TopicPartition

from nexus_mesh.service.handling import Record

__all__ = ["PartitionLane"]

Key = bytes | None


class PartitionLane:
    """The records of one partition this instance fetched and has not yet dealt with.

    Plain bookkeeping, no I/O: the runner decides when a record starts and what a finished
    one means; this keeps which records may start and where the partition may be committed.
    """

    __slots__ = (
        "_end",
        "_max_ahead",
        "_queues",
        "_ready",
        "_started_to",
        "_unfinished",
        "committed",
        "open",
        "paused",
        "running",
        "stalled",
        "tp",
        "waiting",
    )

    def __init__(self, tp: TopicPartition, *, max_ahead: int) -> None:
        self.tp = tp
        self._max_ahead = max_ahead
        # False once the partition is being given up (a rebalance, a stop): nothing new
        # starts, and a handler waiting to retry gives its record up (``is_open``).
        self.open = True
        self.paused = False  # its fetching, while its backlog is full
        self.waiting = 0  # fetched, not started
        self.committed: int | None = None  # the last offset this instance committed
        self.running: dict[Key, asyncio.Task[None]] = {}  # at most one per campaign
        self._queues: dict[Key, deque[Record]] = {}  # each campaign's waiting records
        # Campaigns whose next record may start now, the longest waiting first.
        self._ready: dict[Key, None] = {}
        # Offsets fetched and not dealt with, oldest first: the first is the commit point.
        self._unfinished: dict[int, None] = {}
        self._end: int | None = None  # after the newest record fetched
        self._started_to = 0  # after the newest record started
        self.stalled = False  # said so once, until it moves again (the runner logs it)

    def is_open(self) -> bool:
        return self.open

    def add(self, records: Iterable[Record]) -> None:
        for record in records:
            key = record.key
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
                if key not in self.running:
                    self._ready[key] = None
            queue.append(record)
            self._unfinished[record.offset] = None
            self._end = record.offset + 1
            self.waiting += 1

    def _next_key(self) -> tuple[Key] | None:
        """The campaign whose next record starts next: the longest ready whose record lies
        within ``max_ahead`` offsets of the commit point. The record at the commit point
        always does (its campaign has nothing older in hand), so a lane at its limit still
        starts the record the limit waits for."""
        point = self.commit_point()
        if point is None:
            return None
        bound = point + self._max_ahead
        for key in self._ready:
            if self._queues[key][0].offset < bound:
                return (key,)
        return None

    @property
    def held(self) -> bool:
        """Records wait but may not start for ``max_ahead``: an older one is slow or stuck."""
        return self.open and bool(self._ready) and self._next_key() is None

    def ahead(self) -> int:
        """Offsets from the commit point to the newest record started."""
        point = self.commit_point()
        return 0 if point is None else max(0, self._started_to - point)

    def take(self) -> Record | None:
        """The next record that may start, if any (none once the lane is closed)."""
        if not self.open or not self._ready:
            return None
        found = self._next_key()
        if found is None:
            return None
        (key,) = found
        del self._ready[key]
        queue = self._queues[key]
        record = queue.popleft()
        if not queue:
            del self._queues[key]
        self.waiting -= 1
        self._started_to = max(self._started_to, record.offset + 1)
        return record

    def started(self, record: Record, task: asyncio.Task[None]) -> None:
        """``record``, from :meth:`take`, is being handled by ``task``."""
        self.running[record.key] = task

    def finished(self, record: Record, *, dealt: bool) -> None:
        """``record``'s handling ended: dealt with (handled, skipped or dead-lettered), or
        not (given up or cancelled as the partition is given up), which leaves it and its
        campaign's later records to the partition's next reader."""
        del self.running[record.key]
        if not dealt:
            return
        del self._unfinished[record.offset]
        if record.key in self._queues:
            self._ready[record.key] = None

    def commit_point(self) -> int | None:
        """The offset to commit: the oldest record not dealt with, or after the newest
        fetched if all are; None before the first fetch."""
        for offset in self._unfinished:
            return offset
        return self._end
