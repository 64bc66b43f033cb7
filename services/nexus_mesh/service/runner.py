"""The consume loop of one service instance: fetch, hand each record over, commit.

Delivery is at-least-once. Offsets are committed only after every record before them was
dealt with — handled, skipped as a duplicate or an unhandled type, or written to the DLQ
(:mod:`nexus_mesh.service.handling`) — so a crash re-delivers, never loses. Records of one
partition (one campaign's order) are handled one after another; partitions of a batch are
handled concurrently. A rebalance stops the batches after their record in hand, waits for
that record, and commits what they did before the partitions go. Consumer lag is kept by
:mod:`nexus_mesh.service.offsets`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

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
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.service.offsets import PartitionOffsets
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.tracing import Telemetry

__all__ = ["Handler", "Runner", "ServiceStats"]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Batches stop first (after the record in hand), so that nothing is handled while
        # the commit is on its way: what it does not cover would be handled again.
        self._runner.stop_batches()
        # The rebalance runs beside the consume loop (aiokafka's coordinator task), not
        # between its fetches as in Java's poll(): unless the record in hand is finished
        # here, the next owner would handle it at the same time, and answer it twice.
        await self._runner.finish_in_hand(frozenset(revoked))
        # The last chance to commit as owner; the next owner starts from these offsets.
        await self._runner.commit(only=set(revoked))
        self._runner.revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
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
    ) -> None:
        self._name = name
        self._topic = topic
        self._config = config
        self._consumer = consumer
        self._log = log
        self._uncommitted: dict[TopicPartition, int] = {}
        self._offsets = PartitionOffsets(consumer, interval_s=config.lag_interval_s, log=log)
        # Bumped by each rebalance, so a batch begun before it stops after its record in hand.
        self._generation = 0
        # Each partition's handling of the batch in hand, and the partitions whose revocation
        # waits for it: a record they finish then is still this instance's to commit.
        self._in_hand: dict[TopicPartition, asyncio.Task[None]] = {}
        self._finishing: frozenset[TopicPartition] = frozenset()
        self.metrics = metrics or ServiceMetrics(service=name)
        self.metrics.lag.track(self._offsets.lag)
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
        self._idle = False
        self._task: asyncio.Task[None] | None = None
        self._offsets_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def start(self) -> None:
        self._consumer.subscribe([self._topic], listener=_Listener(self))
        self._task = asyncio.create_task(self._consume(), name=f"nexus-service-{self._name}")
        self._offsets_task = asyncio.create_task(
            self._offsets.watch(), name=f"nexus-service-{self._name}-offsets"
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
        self.revoked(self._offsets.owned)

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

    def stop_batches(self) -> None:
        """Make the batches being handled stop after their record in hand (a rebalance)."""
        self._generation += 1

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
                    if fresh:
                        await self._consumer.commit(fresh)
                    return fresh
        except (KafkaError, TimeoutError) as exc:
            # Resolved at the first fetch instead, as the consumer would anyway.
            self._log.warning("partition positions not resolved at assignment: %r", exc)
        return {}

    async def finish_in_hand(self, partitions: frozenset[TopicPartition]) -> None:
        """Wait until the records in hand on ``partitions`` are dealt with, up to
        ``stop_timeout_s``; a handler still running then is cancelled, its record left
        uncommitted for the next owner."""
        tasks = {t for tp, t in self._in_hand.items() if tp in partitions and not t.done()}
        if not tasks:
            return
        # Said, because the group waits on it: a slow handler here is a slow rebalance.
        self._log.info(
            "rebalance: finishing %d record(s) in hand before giving up their partitions",
            len(tasks),
        )
        self._finishing = partitions
        try:
            _, late = await asyncio.wait(tasks, timeout=self._config.stop_timeout_s)
            if late:
                self._log.warning(
                    "a handler outlived the stop timeout at a rebalance; cancelling it"
                )
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
        finally:
            self._finishing = frozenset()

    def revoked(self, partitions: frozenset[TopicPartition]) -> None:
        # Committed just before if it could be; otherwise the next owner re-handles from the
        # last commit. Kept, an old offset would be committed if the partition came back,
        # moving the group's position backwards.
        for tp in partitions:
            self._uncommitted.pop(tp, None)
        self._own(self._offsets.owned - partitions)

    def _own(self, partitions: frozenset[TopicPartition]) -> None:
        self._generation += 1
        self._offsets.own(partitions)
        self.stats.assigned = partitions
        self.metrics.assigned_partitions.labels(self._name).set(len(partitions))

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
        self._offsets.committed(offsets)

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
            self._offsets.fetched()
            if not batches:
                continue
            generation = self._generation
            try:
                async with asyncio.TaskGroup() as group:
                    for tp, records in batches.items():
                        self._in_hand[tp] = group.create_task(
                            self._partition(tp, records, generation)
                        )
            finally:
                self._in_hand.clear()
            await self.commit()

    async def _partition(self, tp: TopicPartition, records: list[Record], generation: int) -> None:
        for record in records:
            # A rebalance began meanwhile (it moves the generation on before committing what
            # was handled): the partition may go to another instance, which starts from that
            # commit, or come back to this one from it; the rest of this batch is handled
            # there, and handling it here too would do it twice.
            if self._stopping or generation != self._generation:
                return
            try:
                await self._handling.handle(
                    record,
                    current=lambda: not self._stopping and generation == self._generation,
                )
            except RecordAbandoned:
                return  # uncommitted: handled again by whoever reads the partition next
            if generation == self._generation or tp in self._finishing:
                self._uncommitted[tp] = record.offset + 1
