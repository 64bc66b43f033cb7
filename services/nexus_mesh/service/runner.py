"""The consume loop of one service instance: fetch, decode, dedupe, handle, dead-letter, commit.

Delivery is at-least-once. Offsets are committed only after every record before them was
dealt with — handled, skipped as a duplicate or an unhandled type, or written to the DLQ —
so a crash re-delivers, never loses. Records of one partition (one campaign's order) are
handled one after another; partitions of a batch are handled concurrently. Nothing a record
contains can stop the loop: the worst a record can do is end up in ``<prefix>.dlq``.

Each record a handler is meant for is one ``process <topic>`` consumer span, the child of
the span that produced it (its ``traceparent`` header, else its metadata), so the handler's
replies join the trace of the request. Records of types this service does not handle get no
span: every service of a domain sees them, and only the one that handles them matters.

Consumer lag (``nexus_service_consumer_lag``) is counted from the group's committed offset,
not from the consumer's fetch position: the fetcher reads ahead of the handlers (a batch of
``max_records``, plus a buffered fetch), so a handler stuck on the first record of a backlog
would show the whole backlog as consumed. The committed offset is where the group resumes if
this instance dies, so what lies after it is exactly the work still to do, and it is the
number ``kafka-consumer-groups --describe`` shows. A partition nothing was ever committed on
starts from its log start offset (``auto_offset_reset="earliest"``), so that is its base.
The end offsets are read every ``lag_interval_s`` besides every fetch, because a stuck batch
stops the fetches, and with them the high watermarks the consumer would report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from opentelemetry import trace

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.prometheus import LagSample
from nexus_mesh.service.config import ServiceConfig
from nexus_mesh.service.context import Context, Origin
from nexus_mesh.service.dedupe import SeenEvents
from nexus_mesh.service.dlq import DeadLetters, FailedRecord
from nexus_mesh.service.metrics import (
    DLQ_HANDLER,
    DLQ_UNDECODABLE,
    FAILED,
    HANDLED,
    TIMED_OUT,
    ServiceMetrics,
)
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.records import record_span
from nexus_mesh.tracing.spans import OUTCOME, record_error

Handler = Callable[[Envelope, Context], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]

# Reading offsets is a request or two to the partition leaders; one that hangs (a leader
# being elected) is given up on and retried at the next interval, keeping the last reading.
_OFFSETS_TIMEOUT_S = 10.0


@dataclass(kw_only=True, slots=True)
class ServiceStats:
    """Counters of what became of the records this instance read."""

    handled: int = 0
    duplicates: int = 0
    unhandled: int = 0
    dead_lettered: int = 0
    assigned: frozenset[TopicPartition] = field(default_factory=frozenset)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Batches stop first (after the record in hand), so that nothing is handled while
        # the commit is on its way: what it does not cover would be handled again.
        self._runner.stop_batches()
        # The last chance to commit as owner; the next owner starts from these offsets.
        await self._runner.commit(only=set(revoked))
        self._runner.revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._runner.assigned(frozenset(assigned))


class Runner:
    """One running instance; :class:`~nexus_mesh.service.app.Service` starts and stops it."""

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        handlers: Mapping[str, Handler],
        config: ServiceConfig,
        consumer: AIOKafkaConsumer,
        codec: Codec,
        publisher: Publisher,
        dead_letters: DeadLetters,
        log: logging.Logger,
        group_id: str | None = None,
        telemetry: Telemetry | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self._name = name
        self._group_id = group_id
        self._topic = topic
        self._handlers = dict(handlers)
        self._config = config
        self._consumer = consumer
        self._codec = codec
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._log = log
        self._seen = SeenEvents(max_entries=config.dedupe_max_entries, ttl_s=config.dedupe_ttl_s)
        self._uncommitted: dict[TopicPartition, int] = {}
        # What lag() reports, per owned partition. The metrics thread reads them while the
        # loop writes them: each is replaced whole, never changed in place, so a scrape sees
        # one consistent version of each without a lock.
        self._owned: frozenset[TopicPartition] = frozenset()
        self._ends: Mapping[TopicPartition, int] = {}  # high watermark, newest reading
        self._committed: Mapping[TopicPartition, int] = {}  # the group's committed offset
        self._starts: Mapping[TopicPartition, int] = {}  # log start, where nothing is committed
        # Bumped by each rebalance, so a reading taken before it is not applied after it.
        self._generation = 0
        self._read_offsets_now = asyncio.Event()
        self._telemetry = telemetry or Telemetry()
        self.metrics = metrics or ServiceMetrics(service=name)
        self.metrics.lag.track(self.lag)
        self._stopping = False
        self._idle = False
        self._task: asyncio.Task[None] | None = None
        self._offsets_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.stats = ServiceStats()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def start(self) -> None:
        self._consumer.subscribe([self._topic], listener=_Listener(self))
        self._task = asyncio.create_task(self._consume(), name=f"nexus-service-{self._name}")
        self._offsets_task = asyncio.create_task(
            self._watch_offsets(), name=f"nexus-service-{self._name}-offsets"
        )

    async def stop(self) -> None:
        """Finish the record in hand, commit, and return; waits at most ``stop_timeout_s``."""
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            if self._idle:
                task.cancel()  # no record in hand: waiting for records is safe to interrupt
            done, _ = await asyncio.wait({task}, timeout=self._config.stop_timeout_s)
            if not done:
                self._log.warning("a handler outlived the stop timeout; cancelling it")
                task.cancel()
                await asyncio.wait({task})
        offsets_task = self._offsets_task
        if offsets_task is not None:
            offsets_task.cancel()
            await asyncio.wait({offsets_task})
        await self.commit()
        # A stopped instance consumes nothing: no lag of its own to report any more.
        self.revoked(self._owned)

    def assigned(self, partitions: frozenset[TopicPartition]) -> None:
        self._own(partitions)
        # From assignment on, not from the first record: read where each partition stands.
        self._read_offsets_now.set()
        self._log.info(
            "service %s %s: partitions %s",
            self._name,
            "rebalanced" if self.ready.is_set() else "ready",
            ", ".join(f"{tp.topic}-{tp.partition}" for tp in sorted(partitions)) or "none",
        )
        self.ready.set()

    def stop_batches(self) -> None:
        """Make the batches being handled stop after their record in hand (a rebalance)."""
        self._generation += 1

    def revoked(self, partitions: frozenset[TopicPartition]) -> None:
        # Committed just before if it could be; otherwise the next owner re-handles from the
        # last commit. Kept, an old offset would be committed if the partition came back,
        # moving the group's position backwards.
        for tp in partitions:
            self._uncommitted.pop(tp, None)
        owned = self._owned - partitions
        self._own(owned)
        self._ends = _only(self._ends, owned)
        self._committed = _only(self._committed, owned)
        self._starts = _only(self._starts, owned)

    def _own(self, partitions: frozenset[TopicPartition]) -> None:
        self._generation += 1
        self._owned = partitions
        self.stats.assigned = partitions
        self.metrics.assigned_partitions.labels(self._name).set(len(partitions))

    def lag(self) -> list[LagSample]:
        """Per assigned partition: records after the group's committed offset (module doc).

        Called on the metrics server's thread: it only reads what the loop last stored.
        A partition is left out until its offsets were first read, moments after assignment.
        """
        ends, committed, starts = self._ends, self._committed, self._starts
        samples = []
        for tp in sorted(self._owned):
            end = ends.get(tp)
            base = committed.get(tp, starts.get(tp))
            if end is not None and base is not None:
                samples.append((tp.topic, tp.partition, end - base))
        return samples

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        owned = self._consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._uncommitted.items()
            if tp in owned and (only is None or tp in only)
        }
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # Usually a rebalance took the partition away: its next owner re-handles from the
            # last commit (at-least-once), and a later commit here covers newer offsets.
            self._log.warning("commit of %s failed: %s", offsets, exc)
            return
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]
        self._committed = {**self._committed, **_only(offsets, self._owned)}

    async def _watch_offsets(self) -> None:
        """Read the offsets lag() needs at assignment and every ``lag_interval_s``."""
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.lag_interval_s):
                    await self._read_offsets_now.wait()
            self._read_offsets_now.clear()
            try:
                async with asyncio.timeout(_OFFSETS_TIMEOUT_S):
                    await self._read_offsets()
            except Exception as exc:
                # The lag keeps its last reading meanwhile; a broker outage is logged once
                # (the consume loop says more), not every interval.
                if not failing:
                    self._log.warning(
                        "cannot read offsets for the consumer lag; retrying every %.1f s: %r",
                        self._config.lag_interval_s,
                        exc,
                    )
                failing = True
            else:
                failing = False

    async def _read_offsets(self) -> None:
        generation, owned = self._generation, self._owned
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
            if tp in self._owned:
                newest[tp] = max(end, newest.get(tp, end))
        self._ends = newest

    async def _consume(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._idle = True
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=self._config.poll_timeout_ms,
                    max_records=self._config.max_records,
                )
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                self._log.warning("fetch failed, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._idle = False
            backoff = 0.1
            # Each fetch brought the high watermarks of its partitions: fresher than the last
            # reading while the instance keeps up.
            fetched = {}
            for tp in self._owned & self._consumer.assignment():
                highwater = self._consumer.highwater(tp)
                if highwater is not None:
                    fetched[tp] = highwater
            self._note_ends(fetched)
            if not batches:
                continue
            generation = self._generation
            async with asyncio.TaskGroup() as group:
                for tp, records in batches.items():
                    group.create_task(self._partition(tp, records, generation))
            await self.commit()

    async def _partition(self, tp: TopicPartition, records: list[Record], generation: int) -> None:
        for record in records:
            # A rebalance began meanwhile (it moves the generation on before committing what
            # was handled): the partition may go to another instance, which starts from that
            # commit, or come back to this one from it; the rest of this batch is handled
            # there, and handling it here too would do it twice.
            if self._stopping or generation != self._generation:
                return
            await self._record(record)
            if generation == self._generation:
                self._uncommitted[tp] = record.offset + 1

    async def _record(self, record: Record) -> None:
        began = time.perf_counter()
        envelope: Envelope | None = None
        failure: Exception | None = None
        try:
            envelope = self._codec.decode(record.value if record.value is not None else b"")
        except Exception as exc:
            failure = exc
        if not self._telemetry.enabled or (
            envelope is not None and envelope.type not in self._handlers
        ):
            await self._dispatch(record, envelope, failure, began)
            return
        with record_span(
            self._telemetry.tracer, record, envelope, consumer_group=self._group_id
        ) as span:
            outcome = await self._dispatch(record, envelope, failure, began)
            if span.is_recording():
                span.set_attribute(OUTCOME, outcome)

    async def _dispatch(
        self,
        record: Record,
        envelope: Envelope | None,
        failure: Exception | None,
        began: float,
    ) -> str:
        """Deal with one record; returns what became of it (the span's ``nexus.outcome``)."""
        if envelope is None:
            assert failure is not None
            record_error(trace.get_current_span(), failure)
            await self._dead_letter(record, failure, reason=DLQ_UNDECODABLE)
            return "dead_lettered"
        self.metrics.events_in.labels(self._name, envelope.type).inc()
        origin = Origin(topic=record.topic, partition=record.partition, offset=record.offset)
        meta = envelope.metadata
        event_id = meta.event_id
        # Scoped as the gateway scopes idempotency: ids are unique per sender, not globally.
        seen_key = (meta.campaign_id, meta.user_id or "", event_id)
        if seen_key in self._seen:
            self.stats.duplicates += 1
            self.metrics.duplicates.labels(self._name).inc()
            self._log.debug("skipping duplicate %s %s", envelope.type, event_id)
            return "duplicate"
        handler = self._handlers.get(envelope.type)
        if handler is None:
            # Not poison: the domain topic carries types other services of the domain handle.
            self.stats.unhandled += 1
            self.metrics.unhandled.labels(self._name, envelope.type).inc()
            self._log.debug("no handler for %s at %s", envelope.type, origin)
            return "unhandled"
        context = Context(
            event=envelope,
            origin=origin,
            service=self._name,
            publisher=self._publisher,
            log=self._log,
        )
        outcome = "handled"
        try:
            await self._call(handler, envelope, context)
        except Exception as exc:
            # Timed before the dead letter is written: the handler's time, as for a success.
            # A failing handler is the one an operator most needs to see the time of.
            self._observe(envelope, began, TIMED_OUT if isinstance(exc, TimeoutError) else FAILED)
            record_error(trace.get_current_span(), exc)
            await self._dead_letter(record, exc, reason=DLQ_HANDLER)
            outcome = "dead_lettered"
        else:
            self._observe(envelope, began, HANDLED)
            self.stats.handled += 1
            self.metrics.handled.labels(self._name, envelope.type).inc()
        # Dead-lettered counts as dealt with: a second copy would only repeat the failure.
        self._seen.add(seen_key)
        return outcome

    def _observe(self, envelope: Envelope, began: float, outcome: str) -> None:
        self.metrics.handle_seconds.labels(self._name, envelope.type, outcome).observe(
            time.perf_counter() - began
        )

    async def _call(self, handler: Handler, envelope: Envelope, context: Context) -> None:
        attempts = self._config.retry_attempts
        for attempt in range(1, attempts + 1):
            context.attempt_started()
            try:
                async with asyncio.timeout(self._config.handler_timeout_s):
                    await handler(envelope, context)
                return
            except Exception as exc:
                if attempt == attempts or not getattr(exc, "retriable", False):
                    raise
                delay = self._config.retry_backoff_s * 2 ** (attempt - 1)
                self.metrics.retries.labels(self._name).inc()
                trace.get_current_span().add_event(
                    "retry", {"attempt": attempt, "exception.message": str(exc)[:256]}
                )
                self._log.warning(
                    "%s %s failed (attempt %d of %d), retrying in %.2f s: %s",
                    envelope.type,
                    envelope.metadata.event_id,
                    attempt,
                    attempts,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    async def _dead_letter(self, record: Record, error: BaseException, *, reason: str) -> None:
        self._log.warning(
            "dead-lettering %s-%s@%s: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            error,
        )
        failed = FailedRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        await self._dead_letters.write(failed, error)
        self.stats.dead_lettered += 1
        self.metrics.dead_letters.labels(self._name, reason).inc()


def _only(
    offsets: Mapping[TopicPartition, int], partitions: frozenset[TopicPartition]
) -> dict[TopicPartition, int]:
    return {tp: offset for tp, offset in offsets.items() if tp in partitions}
