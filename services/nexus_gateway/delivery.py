"""Client-bound delivery: read only what this pod's clients need, decode once, write to many.

The gateway consumes ``<prefix>.clients`` by manual assignment (no consumer group): it holds
the partition of a campaign while at least one of its connections is here, and every partition
of ``<prefix>.system``. It tracks the next offset of each partition itself; a newly assigned
partition starts at its end offset as of the joining client's welcome, so nothing between the
welcome and the first fetch is lost (DESIGN.md section 7).

A record delivered to connections here is a ``process <prefix>.clients`` consumer span (the
child of the span that produced it) with one ``ws send`` span per fan-out beneath it. A
record no connection of this pod wants gets no span: every pod that reads its partition
sees it, and only the delivery matters to the interaction's trace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry.trace import INVALID_SPAN, Span

from nexus_gateway.catchup import CatchUp
from nexus_gateway.connection import Connection
from nexus_gateway.hub import ConnectionHub, DeliveredHook
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import event_frame, new_connection_id
from nexus_gateway.send_span import send_traced
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, KafkaUnavailableError, TopicMissingError
from nexus_mesh.kafka.connection import client_kwargs, stop_quietly
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.position import Position
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tasks import cancel_and_wait
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.records import record_span
from nexus_mesh.tracing.spans import record_error

log = logging.getLogger(__name__)

FETCH_BYTES_PER_PARTITION = 256 * 1024
# Campaigns whose misrouted records are logged (once each); past that, only counted.
MISROUTED_LOGGED = 1000


class Dispatcher:
    def __init__(
        self,
        *,
        settings: NexusSettings,
        codec: Codec,
        hub: ConnectionHub,
        metrics: GatewayMetrics,
        on_delivered: DeliveredHook | None = None,
        client_id: str = "nexus-gateway",
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or Telemetry()
        self._codec = codec
        self._hub = hub
        self._metrics = metrics
        self._on_delivered = on_delivered
        self._topics = TopicNames(prefix=settings.topic_prefix)
        self._consumer = AIOKafkaConsumer(
            **client_kwargs(settings),
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=100,
            # One fetch lands in every target's outbox at once: keep that burst well under
            # the smallest allowed per-connection buffer.
            max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION,
        )
        self._clients_partitions = 0
        self._system: list[TopicPartition] = []
        self._next: dict[TopicPartition, int] = {}
        self._refs: dict[int, int] = defaultdict(int)
        self._lock = asyncio.Lock()
        self._misrouted_campaigns: set[str] = set()
        self._consumer_started = False
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._reachable = False
        self._ends: dict[TopicPartition, int] = {}

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        try:
            if not self._consumer_started:
                await self._consumer.start()
                self._consumer_started = True
            clients = await self._partitions(self._topics.clients)
            system = await self._partitions(self._topics.system)
        except KafkaError as exc:
            raise KafkaUnavailableError(f"delivery consumer cannot reach Kafka: {exc}") from exc
        self._clients_partitions = len(clients)
        self._system = [TopicPartition(self._topics.system, p) for p in sorted(system)]
        ends = await self._consumer.end_offsets(self._system)
        for tp in self._system:
            self._next[tp] = ends[tp]
        self._reassign()
        self._update_gauges()  # the system partitions are assigned before any client joins
        self._reachable = True
        self._task = asyncio.create_task(self._run(), name="gateway-delivery")
        self._watch_task = asyncio.create_task(self._watch(), name="gateway-broker-watch")

    async def _partitions(self, topic: str) -> set[int]:
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            # Not retriable by itself; the gateway still retries its start (the chart's
            # topics Job may run after the pods).
            raise TopicMissingError(topic)
        return set(partitions)

    async def stop(self) -> None:
        for task in (self._watch_task, self._task):
            await cancel_and_wait(task)
        await stop_quietly(self._consumer.stop())

    @property
    def healthy(self) -> bool:
        """Delivery runs and the broker answered within the last few seconds."""
        return self._reachable and self._task is not None and not self._task.done()

    def lag(self) -> dict[TopicPartition, int]:
        """Records on each assigned partition not yet delivered (as of the last check)."""
        return {tp: max(0, self._ends.get(tp, nxt) - nxt) for tp, nxt in self._next.items()}

    async def _watch(self, interval_s: float = 2.0, timeout_s: float = 4.0) -> None:
        # A fetch against a dead broker just returns nothing, so reachability is probed
        # explicitly; the same answer gives the end offsets for the lag figures.
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    self._ends = await self._consumer.end_offsets(list(self._next))
                self._reachable = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._reachable:
                    # A timeout's text is empty: say what it means.
                    reason = str(exc) or f"no answer within {timeout_s:g} s"
                    log.warning("Kafka unreachable from the delivery consumer: %s", reason)
                self._reachable = False
            await asyncio.sleep(interval_s)

    # -- joining and leaving --------------------------------------------------------------

    def partition_of(self, campaign_id: str) -> int:
        return campaign_partition(campaign_id, self._clients_partitions)

    async def join(
        self,
        connection: Connection,
        welcome: Callable[[Position, bool], None],
        *,
        since: Position | None = None,
    ) -> CatchUp | None:
        """Register ``connection``; call ``welcome(position, recovered)`` as it becomes live.

        Registration and the welcome happen in one step of the event loop, so the first live
        event the connection receives is exactly the one after its welcome position. With a
        valid ``since`` the welcome position is ``since`` and the returned :class:`CatchUp`
        names the gap to replay before the live frames held meanwhile. Raises
        :class:`KafkaUnavailableError` when Kafka cannot tell whether ``since`` is still
        readable: the client must retry, not be told its events are gone.
        """
        tp = TopicPartition(
            self._topics.clients, self.partition_of(connection.identity.campaign_id)
        )
        await self._hold(tp)
        try:
            resumable = since is not None and await self._resumable(tp, since)
        except BaseException:
            await self._release(tp)
            raise
        # No await from here on: the position, the welcome and the registration are one step.
        if self._hub.get(connection.id) is not None:
            # Two resumes raced for one connection id; the later one gets a fresh id, owned
            # like any other, so that it can resume with it in turn.
            ident = connection.identity
            connection.identity = dataclasses.replace(
                ident, connection_id=new_connection_id(ident.campaign_id, ident.user_id)
            )
        current = self.position(tp.partition)
        job: CatchUp | None = None
        if since is not None and resumable:
            if (since.offset, since.system) != (current.offset, current.system):
                job = CatchUp(
                    connection=connection,
                    clients=tp,
                    system=tuple(self._system),
                    since=since,
                    clients_target=current.offset,
                    system_targets=current.system,
                )
                connection.begin_catch_up()
            welcome(since, True)
        else:
            welcome(current, False)
        self._hub.add(connection)
        self._update_gauges()
        return job

    async def _hold(self, tp: TopicPartition) -> None:
        """Count one more connection on ``tp``, assigning it from its end offset if new.

        Only a new partition waits for Kafka, and only behind other new partitions (the
        lock): a join to a partition already read here, and every leave, goes through at
        once, even while Kafka keeps a first join waiting for its end offset.
        """
        if tp not in self._next:
            async with self._lock:
                if tp not in self._next:
                    ends = await self._consumer.end_offsets([tp])
                    self._next[tp] = ends[tp]
                    self._reassign()
        # No await between the check and the count: a leave cannot drop ``tp`` in between.
        self._refs[tp.partition] += 1

    async def _release(self, tp: TopicPartition) -> None:
        # No await: it never interleaves with another hold's check and count.
        self._refs[tp.partition] -= 1
        if self._refs[tp.partition] <= 0:
            del self._refs[tp.partition]
            self._next.pop(tp, None)
            self._reassign()
        self._update_gauges()

    async def _resumable(self, tp: TopicPartition, since: Position) -> bool:
        """Whether ``since`` can be honoured: same topic layout, still within retention."""
        if (
            since.partitions != self._clients_partitions
            or since.partition != tp.partition
            or len(since.system) != len(self._system)
        ):
            return False
        partitions = [tp, *self._system]
        wanted = dict(zip(partitions, (since.offset, *since.system), strict=True))
        try:
            firsts = await self._consumer.beginning_offsets(partitions)
            ends = await self._consumer.end_offsets(partitions)
        except KafkaError as exc:
            raise KafkaUnavailableError(f"cannot check a resume position: {exc}") from exc
        if any(not firsts[p] <= wanted[p] <= ends[p] for p in partitions):
            return False
        # A position from a pod that had read further than this one: wait (briefly) until
        # this pod's delivery reaches it, so the replay never has to go backwards.
        deadline = asyncio.get_running_loop().time() + 5.0
        while any(self._next[p] < wanted[p] for p in partitions):
            if asyncio.get_running_loop().time() > deadline:
                raise KafkaUnavailableError("delivery has not reached the resume position yet")
            await asyncio.sleep(0.02)
        return True

    async def leave(self, connection: Connection) -> None:
        if self._hub.get(connection.id) is not connection:
            return  # never registered: a failed join released its own hold
        self._hub.remove(connection)
        await self._release(
            TopicPartition(self._topics.clients, self.partition_of(connection.identity.campaign_id))
        )

    def position(self, partition: int) -> Position:
        tp = TopicPartition(self._topics.clients, partition)
        return Position(
            partitions=self._clients_partitions,
            partition=partition,
            offset=self._next[tp],
            system=tuple(self._next[s] for s in self._system),
        )

    def _reassign(self) -> None:
        # assign() forgets fetch positions, so every partition is put back at the next
        # offset we track; no await separates the two, so the fetcher never sees a gap.
        partitions = list(self._next)
        self._consumer.assign(partitions)
        for tp in partitions:
            self._consumer.seek(tp, self._next[tp])

    def _update_gauges(self) -> None:
        self._metrics.connections.set(len(self._hub))
        self._metrics.campaigns.set(self._hub.campaign_count)
        clients = sum(1 for tp in self._next if tp.topic == self._topics.clients)
        self._metrics.assigned_partitions.labels(self._topics.clients).set(clients)
        self._metrics.assigned_partitions.labels(self._topics.system).set(len(self._system))

    # -- the delivery loop ----------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=2000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery fetch failed, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            for tp, records in batches.items():
                for record in records:
                    expected = self._next.get(tp)
                    if expected is None or record.offset < expected:
                        continue  # dropped meanwhile, or fetched before a re-seek
                    self._next[tp] = record.offset + 1
                    try:
                        self._deliver(tp, record)
                    except Exception:
                        # One record that cannot be delivered must not stop delivery for
                        # every client of this pod; it is logged, counted and skipped.
                        self._metrics.undecodable.inc()
                        log.exception(
                            "could not deliver %s-%s@%s", tp.topic, tp.partition, record.offset
                        )

    def _deliver(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        began = time.time_ns() if self._telemetry.enabled else None
        try:
            envelope = self._codec.decode(record.value)
        except CodecError as exc:
            self._metrics.undecodable.inc()
            self._trace_undecodable(record, exc)
            log.warning(
                "skipping undecodable record %s-%s@%s: %s",
                tp.topic,
                tp.partition,
                record.offset,
                exc,
            )
            return
        if tp.topic == self._topics.system:
            self._broadcast(envelope, record, began)
            return
        meta = envelope.metadata
        if self.partition_of(meta.campaign_id) != tp.partition:
            # Never delivered: its campaign's clients read another partition, and positions
            # would not hold. Said, since only a producer or a topic change puts it here.
            self._misrouted(tp, record, meta.campaign_id)
            return
        targets = self._hub.targets(
            campaign_id=meta.campaign_id, user_id=meta.user_id, connection_id=meta.connection_id
        )
        if not targets:
            # Nobody here to write to, but a reply still answers its requester's wait (the
            # requester may be away and resume later, possibly here).
            if self._on_delivered is not None:
                self._on_delivered(envelope, targets)
            return
        with self._process_span(record, envelope, began):
            frame = event_frame(
                envelope,
                self._codec.payload_to_json(envelope.type, envelope.payload),
                self.position(tp.partition).encode(),
            )
            self._fan_out(envelope, frame, targets, record.timestamp / 1000)

    def _misrouted(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], campaign_id: str
    ) -> None:
        self._metrics.misrouted.inc()
        if len(self._misrouted_campaigns) >= MISROUTED_LOGGED or (
            campaign_id in self._misrouted_campaigns
        ):
            return
        self._misrouted_campaigns.add(campaign_id)
        log.warning(
            "skipping record %s-%s@%s: campaign %r belongs to partition %d of %d (the key's "
            "murmur2 hash, as Kafka's default partitioner places it); its producer partitions "
            "otherwise, or the topic's partition count changed (said once per campaign)",
            tp.topic,
            tp.partition,
            record.offset,
            campaign_id,
            self.partition_of(campaign_id),
            self._clients_partitions,
        )

    def _broadcast(
        self, envelope: Envelope, record: ConsumerRecord[bytes, bytes], began: int | None
    ) -> None:
        # Hashed once per campaign, not once per connection: a broadcast reaches everyone.
        by_partition: dict[int, list[Connection]] = defaultdict(list)
        for campaign_id in self._hub.campaigns():
            by_partition[self.partition_of(campaign_id)].extend(self._hub.in_campaign(campaign_id))
        if not by_partition:
            return
        with self._process_span(record, envelope, began):
            payload = self._codec.payload_to_json(envelope.type, envelope.payload)
            for partition, targets in by_partition.items():
                # The frame differs per clients partition only by its position.
                frame = event_frame(envelope, payload, self.position(partition).encode())
                self._fan_out(envelope, frame, targets, record.timestamp / 1000)

    def _process_span(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, began: int | None
    ) -> AbstractContextManager[Span]:
        if began is None:
            return nullcontext(INVALID_SPAN)
        # Decoding, before the targets were known, is part of the span.
        return record_span(self._telemetry.tracer, record, envelope, start_time=began)

    def _trace_undecodable(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        if self._telemetry.enabled:
            with record_span(self._telemetry.tracer, record, None) as span:
                record_error(span, error)

    @staticmethod
    def _enqueue_all(frame: bytes, targets: list[Connection], born: float) -> int:
        """Queue ``frame`` on every target; only the last carries ``born``.

        The delivery-latency histogram then gets one observation per record (when its last
        target's socket took it) instead of one per connection: observing is a lock and a
        bucket search, which at 1,000 targets cost more than the writes themselves.
        """
        last = len(targets) - 1
        return sum(
            1
            for index, connection in enumerate(targets)
            if connection.send(frame, born if index == last else 0.0)
        )

    def _fan_out(
        self, envelope: Envelope, frame: bytes, targets: list[Connection], born: float
    ) -> None:
        if not self._telemetry.enabled:
            sent = self._enqueue_all(frame, targets, born)
        else:
            sent = send_traced(
                self._telemetry.tracer,
                envelope,
                targets,
                lambda: self._enqueue_all(frame, targets, born),
            )
        if sent:
            self._metrics.events_out.labels(envelope.type).inc(sent)
        if self._on_delivered is not None:
            self._on_delivered(envelope, targets)
