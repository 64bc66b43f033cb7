"""Records Kafka deleted before this pod delivered them: found out while reading, and
remembered for the resumes of the clients that missed them.

A read position that left the log (records deleted by retention or delete-records before this
pod read them: a busy partition, a starved pod) is never skipped over in silence: the pod
reads on from the log start, closes the connections that missed records (1001, resumable),
logs the offsets lost and counts them in ``nexus_gateway_records_lost_total``. Their resume
says ``recovered: false`` and still replays what Kafka kept after the loss.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

from nexus_gateway.connection import Connection
from nexus_gateway.hub import ConnectionHub
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.errors import KafkaUnavailableError
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.position import Position

# The dispatcher's logger: its lines keep the logger name (and repeat keys) they always had.
log = logging.getLogger("nexus_gateway.delivery")

# How long a pod remembers the records it lost on a partition: a resume from a position in
# that range replays what Kafka still holds after it (recovered=false), instead of starting
# live. As long as the departures a position-only resume may claim (departures.py).
LOSS_MEMORY_S = 600.0
LOST_MESSAGE = "events were deleted from Kafka before they were delivered: reconnect and resume"
TRUNCATED_MESSAGE = "the mesh's Kafka log was truncated: reconnect and resume"


@dataclasses.dataclass
class _Loss:
    """Offsets of a partition up to (excluding) ``until`` were deleted before this pod
    delivered them, found out last at loop time ``at``."""

    until: int
    at: float


class Losses:
    """The dispatcher's read positions that left the log, and where resumes start after them.

    Shares the dispatcher's next offsets and held partitions (the same dicts, not copies): a
    position followed here is where delivery reads on.
    """

    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        topics: TopicNames,
        metrics: GatewayMetrics,
        hub: ConnectionHub,
        next_offsets: dict[TopicPartition, int],
        held: dict[str, TopicPartition],
        close: Callable[[Iterable[Connection], str], None],
        partitions: Callable[[], int],
        system: Callable[[], list[TopicPartition]],
    ) -> None:
        """``close`` takes connections out of the hub and closes them (1001, resumable);
        ``partitions`` and ``system`` are the client-bound layout as the dispatcher reads it
        now (both change when partitions are added)."""
        self._consumer = consumer
        self._topics = topics
        self._metrics = metrics
        self._hub = hub
        self._next = next_offsets
        self._held = held
        self._close = close
        self._partitions = partitions
        self._system = system
        self._lost: dict[TopicPartition, _Loss] = {}
        # The out-of-range position last followed on each partition (_out_of_range).
        self._followed: dict[TopicPartition, int] = {}
        for topic in (topics.clients, topics.system):
            metrics.records_lost.labels(topic)  # at 0 from the start, for increase()

    async def follow(self, exc: OffsetOutOfRangeError) -> bool:
        """Follow the positions a fetch found out of the log; True when a partition moved,
        False when the fetch is to be retried as it stands (after a backoff)."""
        try:
            return await self._out_of_range(exc)
        except asyncio.CancelledError:
            raise
        except Exception as failed:
            # The next fetch reports the same position again: tried again then.
            log.warning("could not follow a position out of the log: %r", failed)
            return False

    async def _out_of_range(self, exc: OffsetOutOfRangeError) -> bool:
        """Follow partitions whose read position is no longer in the log (aiokafka with
        ``auto_offset_reset="none"`` raises with ``{partition: fetch offset}``).

        Before the log start, records this pod never delivered were deleted (retention.bytes
        or a short retention.ms on a busy partition, delete-records, a pod starved of CPU):
        it reads on from the log start, so whatever Kafka still holds is delivered, and
        remembers the loss, so a resume from a position in it replays from there. Past the
        end, the log was truncated under it (an unclean leader election, a topic recreated):
        it reads on from the end. Either way the connections that missed records (those of
        the campaigns of that partition; every connection for a system partition) are closed
        with 1001: their resume from their last position says ``recovered: false``. True
        when a partition moved; False when each was back in range (retried as it stands).
        """
        reported = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        partitions = [tp for tp in reported if tp in self._next]
        if not partitions:
            return True  # dropped meanwhile: nothing to wait for
        async with asyncio.timeout(10.0):
            firsts = await self._consumer.beginning_offsets(partitions)
            ends = await self._consumer.end_offsets(partitions)
        followed = False
        for tp in partitions:
            nxt = self._next.get(tp)
            if nxt is None:
                continue  # its last connection left while Kafka answered
            if self._followed.get(tp) == reported[tp] != nxt:
                # A second report of a position already followed (aiokafka had buffered it
                # before the seek): stale, the partition reads on from where it now is.
                followed = True
                continue
            first, end = firsts[tp], ends[tp]
            if first <= nxt <= end:
                # Back in range (a stale report, or a leader that had not caught up): read on
                # from the same place.
                log.warning(
                    "%s-%s: offset %d was out of range, now within %d..%d: reading on",
                    tp.topic,
                    tp.partition,
                    nxt,
                    first,
                    end,
                )
                self._consumer.seek(tp, nxt)
                continue
            if nxt < first:
                resume_at, message = first, LOST_MESSAGE
                self._metrics.records_lost.labels(tp.topic).inc(first - nxt)
                loss = self._lost.get(tp)
                now = asyncio.get_running_loop().time()
                until = first
                if loss is not None and now - loss.at <= LOSS_MEMORY_S:
                    until = max(loss.until, first)  # a loss on top of one remembered
                self._lost[tp] = _Loss(until, now)
            else:
                resume_at, message = end, TRUNCATED_MESSAGE
            self._next[tp] = resume_at
            self._consumer.seek(tp, resume_at)
            self._followed[tp] = reported[tp]
            followed = True
            if tp.topic == self._topics.system:
                missed = list(self._hub)
            else:
                missed = [c for c in self._hub if self._held.get(c.id) == tp]
            if nxt < first:
                log.error(
                    "%s-%s: records at offsets %d to %d were deleted from Kafka before this "
                    "gateway delivered them (the log now starts at %d): reading on from there, "
                    "closing %d connections of the partition (their resume reports "
                    "recovered=false)",
                    tp.topic,
                    tp.partition,
                    nxt,
                    first - 1,
                    first,
                    len(missed),
                )
            else:
                log.error(
                    "%s-%s: offset %d is past the end of the log (%d), which was truncated "
                    "(an unclean leader election, or the topic recreated): reading on from "
                    "the end, closing %d connections of the partition (their resume reports "
                    "recovered=false)",
                    tp.topic,
                    tp.partition,
                    nxt,
                    end,
                    len(missed),
                )
            # After the seek: a partition released here (its last connection gone) is
            # assigned no more, and one still held reads on from ``resume_at``.
            self._close(missed, message)
        return followed

    async def resume_start(self, tp: TopicPartition, since: Position) -> Position | None:
        """Where a resume from ``since`` replays from: ``since`` itself when it can be
        honoured (same topic layout, still within retention); the log start instead, on each
        partition where records after ``since`` were deleted before this pod delivered them
        (a loss it remembers: its connections were closed for it); None when the resume
        starts live."""
        if (
            since.partitions != self._partitions()
            or since.partition != tp.partition
            or len(since.system) != len(self._system())
        ):
            return None
        partitions = [tp, *self._system()]
        wanted = dict(zip(partitions, (since.offset, *since.system), strict=True))
        try:
            firsts = await self._consumer.beginning_offsets(partitions)
            ends = await self._consumer.end_offsets(partitions)
        except KafkaError as exc:
            raise KafkaUnavailableError(f"cannot check a resume position: {exc}") from exc
        starts = {}
        for p in partitions:
            if wanted[p] >= firsts[p] and wanted[p] <= ends[p]:
                starts[p] = wanted[p]
            elif wanted[p] < firsts[p] and self._lost_after(p, wanted[p]):
                starts[p] = firsts[p]
            else:
                # Older than retention (nothing says what it missed), or from the future:
                # live from now on, so from where Kafka ends now, not from wherever a pod that
                # lags (or is still behind a deletion it has yet to find) reads: wait (briefly)
                # until delivery gets there. A late welcome is no error: it then starts
                # where delivery stands.
                await self._delivered(ends, timeout_s=2.0)
                return None
        # A position from a pod that had read further than this one: wait (briefly) until
        # this pod's delivery reaches it, so the replay never has to go backwards.
        if not await self._delivered(starts, timeout_s=5.0):
            raise KafkaUnavailableError("delivery has not reached the resume position yet")
        return Position(
            partitions=since.partitions,
            partition=since.partition,
            offset=starts[tp],
            system=tuple(starts[p] for p in self._system()),
        )

    async def _delivered(self, offsets: dict[TopicPartition, int], *, timeout_s: float) -> bool:
        """Wait until delivery read up to ``offsets`` (at most ``timeout_s``); whether it did."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(self._next.get(p, offset) < offset for p, offset in offsets.items()):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _lost_after(self, tp: TopicPartition, offset: int) -> bool:
        """Whether this pod lost records of ``tp`` lately that a client at ``offset`` was
        owed: any position before the loss's end, since a client's position is where its
        own campaign's last event stood, usually well before where the pod read on to."""
        loss = self._lost.get(tp)
        if loss is None:
            return False
        if asyncio.get_running_loop().time() - loss.at > LOSS_MEMORY_S:
            del self._lost[tp]
            return False
        return offset < loss.until
