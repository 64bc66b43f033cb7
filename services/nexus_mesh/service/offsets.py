"""Consumer lag of one service instance, per partition it owns.

Lag (``nexus_service_consumer_lag``) is counted from the group's committed offset, not from
the consumer's fetch position: the fetcher reads ahead of the handlers (up to
``max_records`` per partition, plus a buffered fetch), so a handler stuck on the first
record of a backlog would show the whole backlog as consumed. The committed offset is where
the group resumes if this instance dies, so what lies after it is exactly the work still to
do, and it is the number ``kafka-consumer-groups --describe`` shows. A partition nothing was
ever committed on starts from its log start offset (``auto_offset_reset="earliest"``), so
that is its base. The end offsets are read every ``interval_s`` besides every fetch, because
a partition whose backlog is full is paused, and its fetches stop bringing the high
watermark with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from nexus_mesh.prometheus import LagSample

# Reading offsets is a request or two to the partition leaders; one that hangs (a leader
# being elected) is given up on and retried at the next interval, keeping the last reading.
_OFFSETS_TIMEOUT_S = 10.0


class PartitionOffsets:
    """Where each owned partition ends and where the group stands on it.

    The metrics thread reads these while the loop writes them: each mapping is replaced
    whole, never changed in place, so a scrape sees one consistent version of each without
    a lock.
    """

    def __init__(
        self, consumer: AIOKafkaConsumer, *, interval_s: float, log: logging.Logger
    ) -> None:
        self._consumer = consumer
        self._interval_s = interval_s
        self._log = log
        self.owned: frozenset[TopicPartition] = frozenset()
        self._ends: Mapping[TopicPartition, int] = {}  # high watermark, newest reading
        self._committed: Mapping[TopicPartition, int] = {}  # the group's committed offset
        self._starts: Mapping[TopicPartition, int] = {}  # log start, where nothing is committed
        # Bumped by each change of ownership, so a reading taken before it is not applied
        # after it.
        self._generation = 0
        self._read_now = asyncio.Event()

    def own(self, partitions: frozenset[TopicPartition]) -> None:
        """Owned from now on: ``partitions`` (a rebalance's whole answer, not a change)."""
        self._generation += 1
        self.owned = partitions
        self._ends = _only(self._ends, partitions)
        self._committed = _only(self._committed, partitions)
        self._starts = _only(self._starts, partitions)
        # From assignment on, not from the first record: read where each partition stands.
        self._read_now.set()

    def lag(self) -> list[LagSample]:
        """Per owned partition: records after the group's committed offset (module doc).

        Called on the metrics server's thread: it only reads what the loop last stored.
        A partition is left out until its offsets were first read, moments after assignment.
        """
        ends, committed, starts = self._ends, self._committed, self._starts
        samples = []
        for tp in sorted(self.owned):
            end = ends.get(tp)
            base = committed.get(tp, starts.get(tp))
            if end is not None and base is not None:
                samples.append((tp.topic, tp.partition, end - base))
        return samples

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """This instance committed ``offsets``: newer than anything the broker said before."""
        self._committed = {**self._committed, **_only(offsets, self.owned)}

    def fetched(self) -> None:
        """Take the high watermarks the consumer's last fetch brought."""
        ends = {}
        for tp in self.owned & self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                ends[tp] = highwater
        self._note_ends(ends)

    async def watch(self) -> None:
        """Read the offsets :meth:`lag` needs at each assignment and every ``interval_s``."""
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._read_now.wait()
            self._read_now.clear()
            try:
                async with asyncio.timeout(_OFFSETS_TIMEOUT_S):
                    await self.read()
            except Exception as exc:
                # The lag keeps its last reading meanwhile; a broker outage is logged once
                # (the consume loop says more), not every interval.
                if failing_since is None:
                    self._log.warning(
                        "cannot read offsets for the consumer lag; retrying every %.1f s: %r",
                        self._interval_s,
                        exc,
                    )
                    failing_since = loop.time()
            else:
                if failing_since is not None:
                    # The outage's end is news too: without it the warning above seems to
                    # hold still, and aiokafka's own errors are the last word in the log.
                    self._log.info(
                        "Kafka answers again: consumer lag read after %.0f s without",
                        loop.time() - failing_since,
                    )
                failing_since = None

    async def read(self) -> None:
        """Ask the broker where each owned partition ends and what the group committed."""
        generation, owned = self._generation, self.owned
        if not owned:
            return
        partitions = sorted(owned)
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        # The group's commit is fetched once per assignment (a previous owner's); after that
        # this instance's own commits keep it current.
        unknown = [tp for tp in partitions if tp not in self._committed]
        found = await asyncio.gather(*(self._consumer.committed(tp) for tp in unknown))
        committed = {
            tp: offset for tp, offset in zip(unknown, found, strict=True) if offset is not None
        }
        never = [tp for tp in unknown if tp not in committed]
        starts: dict[TopicPartition, int] = (
            await self._consumer.beginning_offsets(never) if never else {}
        )
        if generation != self._generation:
            return  # a rebalance happened meanwhile: these may be another assignment's
        # A commit of ours that landed meanwhile is newer than what the broker answered.
        self._committed = {**committed, **self._committed}
        self._starts = starts
        self._note_ends(ends)

    def _note_ends(self, ends: Mapping[TopicPartition, int]) -> None:
        # High watermarks only grow, and two sources report them (a fetch, or a reading):
        # the larger is the newer.
        newest = dict(self._ends)
        for tp, end in ends.items():
            if tp in self.owned:
                newest[tp] = max(end, newest.get(tp, end))
        self._ends = newest


def _only(
    offsets: Mapping[TopicPartition, int], partitions: frozenset[TopicPartition]
) -> dict[TopicPartition, int]:
    return {tp: offset for tp, offset in offsets.items() if tp in partitions}
