"""The consume loop of one service instance: fetch, hand records over, commit.

Delivery is at-least-once. A partition is committed only up to its oldest record not yet
dealt with — handled, skipped as a duplicate or an unhandled type, or written to the DLQ
(:mod:`nexus_mesh.service.handling`) — so a crash re-delivers, never loses. One campaign's
records are handled one after another, in their partition's order; records of different
campaigns at once, up to ``max_concurrency``, even within one partition
(:mod:`nexus_mesh.service.lanes`). Fetching goes on while handlers run, so a slow campaign
holds back only itself, and the instance stays in its group however long a handler takes; a
partition whose ``max_records`` fetched records all wait is paused until they start. A
rebalance stops starting records on the partitions it takes, waits for those in hand, and
commits what was done before the partitions go. Consumer lag is kept by
:mod:`nexus_mesh.service.offsets`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import partial

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from nexus_mesh.codec import Codec
from nexus_mesh.prometheus import LagSample
from nexus_mesh.service.config import ServiceConfig
from nexus_mesh.service.dlq import DeadLetters
from nexus_mesh.service.handling import (
    Handler,
    Record,
    RecordAbandoned,
    RecordHandling,
    ServiceStats,
)
from nexus_mesh.service.lanes import PartitionLane
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.service.offsets import PartitionOffsets
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.tracing import Telemetry

__all__ = ["Handler", "Runner", "ServiceStats"]

# Commits follow progress, but no closer together than this: under load every record
# finishing would otherwise be a request to the group coordinator of its own.
_COMMIT_SPACING_S = 0.05
_COMMIT_RETRY_S = 1.0
# A handler that swallows its cancellation is waited for no longer than this once cancelled:
# a stop or a rebalance must end.
_CANCEL_GRACE_S = 5.0


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        partitions = frozenset(revoked)
        try:
            # Nothing new starts on them first, so that nothing is handled while the commit
            # is on its way: what it does not cover would be handled again.
            self._runner.close(partitions)
            # The rebalance runs beside the consume loop (aiokafka's coordinator task), not
            # between its fetches as in Java's poll(): unless the records in hand are
            # finished here, the next owner would handle them at the same time, and answer
            # them twice.
            await self._runner.finish_in_hand(partitions)
            # The last chance to commit as owner; the next owner starts from these offsets.
            await self._runner.commit(only=partitions)
        finally:
            # Whatever failed above (aiokafka only logs it), a lane kept would drop the
            # partition's records if it came back.
            self._runner.revoked(partitions)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if self._runner.stopped:
            return  # a join that completed while the instance stopped: not serving
        started = await self._runner.resolve_positions(assigned)
        self._runner.assigned(frozenset(assigned), committed=started)


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
        failure_replies: Mapping[str, str] | None = None,
        ready: asyncio.Event | None = None,
    ) -> None:
        self._name = name
        self._topic = topic
        self._config = config
        self._consumer = consumer
        self._log = log
        self._offsets = PartitionOffsets(consumer, interval_s=config.lag_interval_s, log=log)
        # Per partition with records fetched; round-robin order: a lane that started a
        # record moves to the end, so a busy partition does not starve the others.
        self._lanes: dict[TopicPartition, PartitionLane] = {}
        self._in_hand = 0  # records being handled, over all lanes
        self._waiting = 0  # records fetched and not started, over all lanes
        self._progress = asyncio.Event()  # a record was dealt with since the last commit
        self._commit_lock = asyncio.Lock()
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        # Set when the consume loop ended (stopped, or failed): nothing starts any more.
        self._halted = False
        self.metrics = metrics or ServiceMetrics(service=name)
        self.metrics.lag.track(self._offsets.lag)
        # Read at each scrape, on the metrics thread: an int the loop replaces, no lock.
        self.metrics.in_flight.labels(name).set_function(lambda: self._in_hand)
        self.metrics.records_waiting.labels(name).set_function(lambda: self._waiting)
        self.stats = ServiceStats()
        self._handling = RecordHandling(
            name=name,
            handlers=handlers,
            config=config,
            codec=codec,
            publisher=publisher,
            dead_letters=dead_letters,
            log=log,
            group_id=group_id,
            telemetry=telemetry or Telemetry(),
            metrics=self.metrics,
            stats=self.stats,
            failure_replies=failure_replies,
        )
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._offsets_task: asyncio.Task[None] | None = None
        # Set at the first assignment; the service's own event, awaited before it starts.
        self.ready = ready or asyncio.Event()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def stopped(self) -> bool:
        return self._stopping

    @property
    def failure(self) -> BaseException | None:
        """Why the instance stopped on its own (a record it could not deal with), if it did."""
        return self._failure

    def start(self) -> None:
        self._consumer.subscribe([self._topic], listener=_Listener(self))
        self._task = asyncio.create_task(self._consume(), name=f"nexus-service-{self._name}")
        self._offsets_task = asyncio.create_task(
            self._offsets.watch(), name=f"nexus-service-{self._name}-offsets"
        )

    async def stop(self) -> None:
        """Finish the records in hand, commit, and return; waits at most ``stop_timeout_s``
        for the handlers."""
        self._stopping = True
        self._halt()
        # Fetching and committing hold no record: safe to interrupt at any point.
        for task in (self._task, self._offsets_task):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
        in_hand = {t for lane in self._lanes.values() for t in lane.running.values()}
        await self._finish(in_hand, at="the stop")
        await self.commit()
        # A stopped instance consumes nothing: no lag of its own to report any more.
        self.revoked(self._offsets.owned | frozenset(self._lanes))

    def lag(self) -> list[LagSample]:
        """Per assigned partition: records after the group's committed offset."""
        return self._offsets.lag()

    def assigned(
        self,
        partitions: frozenset[TopicPartition],
        *,
        committed: Mapping[TopicPartition, int] | None = None,
    ) -> None:
        self._own(partitions)
        if committed:
            self._offsets.committed(committed)
        self._log.info(
            "service %s %s: partitions %s",
            self._name,
            "rebalanced" if self.ready.is_set() else "ready",
            ", ".join(f"{tp.topic}-{tp.partition}" for tp in sorted(partitions)) or "none",
        )
        self.ready.set()

    def close(self, partitions: frozenset[TopicPartition]) -> None:
        """Start nothing more on ``partitions`` (a rebalance takes them); their handlers
        waiting to retry give their records up."""
        for tp in partitions:
            lane = self._lanes.get(tp)
            if lane is not None:
                lane.open = False

    async def _finish(self, tasks: set[asyncio.Task[None]], *, at: str) -> None:
        """Wait for ``tasks`` up to ``stop_timeout_s``; cancel those still running then."""
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=self._config.stop_timeout_s)
        if not late:
            return
        self._log.warning(
            "%d handler(s) outlived the stop timeout at %s; cancelling", len(late), at
        )
        for task in late:
            task.cancel()
        _, deaf = await asyncio.wait(late, timeout=_CANCEL_GRACE_S)
        if deaf:
            # Its record stays uncommitted (not dealt with); the instance moves on.
            self._log.error("%d handler(s) ignored their cancellation; left running", len(deaf))

    async def resolve_positions(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Fix where each partition starts before the instance says it is ready: a partition
        without a committed offset starts at ``start_from`` as of now, not at the first fetch,
        so that with ``latest`` a record written once ``ready`` is set is handled, and that
        start is committed, so it holds for whoever owns the partition next."""
        try:
            # Bounded: a rebalance callback must not hang on a broker that does not answer.
            async with asyncio.timeout(self._config.send_timeout_s):
                starts = {tp: await self._consumer.position(tp) for tp in partitions}
                if self._config.start_from == "latest":
                    # Committed at once: otherwise "latest" would be where the next owner
                    # starts too, after a restart or a rebalance, skipping what came between
                    # (and the lag would count from the log's start meanwhile).
                    fresh = {
                        tp: offset
                        for tp, offset in starts.items()
                        if await self._consumer.committed(tp) is None
                    }
                    # With the loop's commits, not beside them: records fetched meanwhile
                    # may be handled and committed already, and this must not undo that.
                    async with self._commit_lock:
                        fresh = {
                            tp: self._not_past_fetched(tp, offset)
                            for tp, offset in fresh.items()
                            if (lane := self._lanes.get(tp)) is None or lane.committed is None
                        }
                        if fresh:
                            await self._consumer.commit(fresh)
                    return fresh
        except (KafkaError, TimeoutError) as exc:
            # Resolved at the first fetch instead, as the consumer would anyway.
            self._log.warning("partition positions not resolved at assignment: %r", exc)
        return {}

    def _not_past_fetched(self, tp: TopicPartition, position: int) -> int:
        # The fetch loop may have taken records of the partition while positions were being
        # resolved (the consumer's position is then past them): commit none of them.
        lane = self._lanes.get(tp)
        point = lane.commit_point() if lane is not None else None
        return position if point is None else min(position, point)

    async def finish_in_hand(self, partitions: frozenset[TopicPartition]) -> None:
        """Wait until the records in hand on ``partitions`` are dealt with, up to
        ``stop_timeout_s``; a handler still running then is cancelled, its record left
        uncommitted for the next owner."""
        tasks = {
            task
            for tp in partitions
            if (lane := self._lanes.get(tp)) is not None
            for task in lane.running.values()
        }
        if not tasks:
            return
        # Said, because the group waits on it: a slow handler here is a slow rebalance.
        self._log.info(
            "rebalance: finishing %d record(s) in hand before giving up their partitions",
            len(tasks),
        )
        await self._finish(tasks, at="a rebalance")

    def revoked(self, partitions: frozenset[TopicPartition]) -> None:
        # Committed just before if it could be; otherwise the next owner re-handles from the
        # last commit. A lane kept would commit its old offsets if the partition came back,
        # moving the group's position backwards: it comes back as a new lane, from the
        # group's commit.
        for tp in partitions:
            lane = self._lanes.pop(tp, None)
            if lane is not None:
                self._waiting -= lane.waiting
        self._own(self._offsets.owned - partitions)

    def _own(self, partitions: frozenset[TopicPartition]) -> None:
        self._offsets.own(partitions)
        self.stats.assigned = partitions
        self.metrics.assigned_partitions.labels(self._name).set(len(partitions))

    async def commit(self, only: frozenset[TopicPartition] | None = None) -> bool:
        """Commit each owned partition up to its oldest record not dealt with; False if
        Kafka refused (what it left uncommitted is in a later commit)."""
        # One at a time, each reading the lanes once it is its turn: the commit loop's and a
        # rebalance's must reach the broker oldest first, or the group would move back.
        async with self._commit_lock:
            owned = self._consumer.assignment()
            due: list[tuple[PartitionLane, int]] = []
            for tp, lane in self._lanes.items():
                if tp in owned and (only is None or tp in only):
                    point = lane.commit_point()
                    if point is not None and point != lane.committed:
                        due.append((lane, point))
            if not due:
                return True
            offsets = {lane.tp: point for lane, point in due}
            try:
                # Bounded: aiokafka retries a commit until the coordinator answers, and a
                # stop or a rebalance must not wait for a broker that is away.
                async with asyncio.timeout(self._config.send_timeout_s):
                    await self._consumer.commit(offsets)
            except (KafkaError, TimeoutError) as exc:
                # Usually a rebalance took the partition away: its next owner re-handles from
                # the last commit (at-least-once), and a later commit here covers newer ones.
                self._log.warning("commit of %s failed: %r", offsets, exc)
                return False
            for lane, point in due:
                lane.committed = point
            self._offsets.committed(offsets)
            return True

    async def _consume(self) -> None:
        parts = [
            asyncio.create_task(self._fetch(), name=f"nexus-service-{self._name}-fetch"),
            asyncio.create_task(self._commits(), name=f"nexus-service-{self._name}-commit"),
            asyncio.create_task(self._failed.wait()),
        ]
        try:
            await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._halt()
            for part in parts:
                part.cancel()
            await asyncio.wait(parts)
        errors = [p.exception() for p in parts if not p.cancelled()]
        failure = self._failure or next((e for e in errors if e is not None), None)
        if failure is not None:
            raise failure  # a fetch that failed for good, or a record's (``_fail``)

    async def _fetch(self) -> None:
        config = self._config
        backoff = 0.1
        while True:
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=config.poll_timeout_ms, max_records=config.max_records
                )
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                self._log.warning("fetch failed, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            if self._halted:
                return  # stopping or failed: what it brought is the next reader's
            # Each fetch brought the high watermarks of its partitions: fresher than the last
            # reading while the instance keeps up.
            self._offsets.fetched()
            for tp, records in batches.items():
                lane = self._lanes.get(tp)
                if lane is None:
                    lane = self._lanes[tp] = PartitionLane(tp, max_ahead=config.max_ahead)
                elif not lane.open:
                    # Being given up: left to whoever reads the partition next, from the
                    # commit the rebalance makes (this instance too, as a new lane).
                    continue
                lane.add(records)
                self._waiting += len(records)
                self._throttle(lane)
            self._start()

    async def _commits(self) -> None:
        while True:
            await self._progress.wait()
            self._progress.clear()
            if await self.commit():
                await asyncio.sleep(_COMMIT_SPACING_S)
            else:
                self._progress.set()  # what it left is still to commit
                await asyncio.sleep(_COMMIT_RETRY_S)

    def _throttle(self, lane: PartitionLane) -> None:
        # Pausing drops what the fetcher holds of the partition (fetched again on resume),
        # so fetching resumes only once half the backlog has started, not at each start.
        limit = self._config.max_records
        if not lane.paused and lane.waiting >= limit:
            self._consumer.pause(lane.tp)
            lane.paused = True
        elif lane.paused and lane.waiting <= limit // 2 and lane.open:
            self._consumer.resume(lane.tp)
            lane.paused = False

    def _start(self) -> None:
        """Start what may start, a record per partition in turn, up to ``max_concurrency``."""
        limit = self._config.max_concurrency
        started = True
        while started and self._in_hand < limit and not self._halted:
            started = False
            # A copy: starting moves a lane to the back of the turn.
            for lane in list(self._lanes.values()):
                if self._in_hand >= limit:
                    break
                record = lane.take()
                if record is not None:
                    self._waiting -= 1
                    self._begin(lane, record)
                    started = True
        for lane in self._lanes.values():
            if not lane.stalled and lane.held:
                lane.stalled = True
                self._log.warning(
                    "%s-%d: the record at offset %s is still being handled, and %d after it "
                    "were started: starting none further on until it is done "
                    "(ServiceConfig.max_ahead); its campaign's handler is slow or stuck",
                    lane.tp.topic,
                    lane.tp.partition,
                    lane.commit_point(),
                    lane.ahead() - 1,
                )

    def _begin(self, lane: PartitionLane, record: Record) -> None:
        self._throttle(lane)
        task = asyncio.create_task(self._handling.handle(record, current=lane.is_open))
        lane.started(record, task)
        self._in_hand += 1
        task.add_done_callback(partial(self._finished, lane, record))
        # To the back of the turn (a no-op for a lane already revoked).
        if self._lanes.get(lane.tp) is lane:
            del self._lanes[lane.tp]
            self._lanes[lane.tp] = lane

    def _finished(self, lane: PartitionLane, record: Record, task: asyncio.Task[None]) -> None:
        self._in_hand -= 1
        error = None if task.cancelled() else task.exception()
        dealt = not task.cancelled() and error is None
        lane.finished(record, dealt=dealt)
        if dealt:
            self._progress.set()
            if lane.stalled and not lane.held:
                lane.stalled = False
                self._log.info("%s-%d: moving again", lane.tp.topic, lane.tp.partition)
        else:
            where = f"{record.topic}-{record.partition}@{record.offset}"
            if lane.open and not self._halted:
                # Given up while its partition is still this instance's, by an error outside
                # the handler (a handler's own failure is dead-lettered inside; the DLQ write
                # insists until it lands). Left alone, its campaign would wait behind it for
                # ever; the instance stops instead, the record uncommitted, and the process
                # exits for a restart.
                failure = error or RuntimeError(f"the handling of {where} was cancelled")
                self._log.error(
                    "handling %s failed outside its handler: %r; this instance stops, the "
                    "record uncommitted, for its partition's next reader",
                    where,
                    failure,
                )
                self._fail(failure)
            elif error is not None and not isinstance(error, RecordAbandoned):
                # Its partition is being given up anyway: the next owner handles it again.
                self._log.error(
                    "handling %s failed as its partition was given up: %r", where, error
                )
        self._start()

    def _fail(self, error: BaseException) -> None:
        if self._failure is None and not self._stopping:
            self._failure = error
            self._failed.set()
        self._halt()

    def _halt(self) -> None:
        self._halted = True
        for lane in self._lanes.values():
            lane.open = False
