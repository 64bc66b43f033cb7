"""Client-bound delivery: read only the partitions this pod's clients need.

The gateway consumes ``<prefix>.clients`` by manual assignment (no consumer group): it holds
the partition of a campaign while at least one of its connections is here, and every partition
of ``<prefix>.system``. It tracks the next offset of each partition itself; a newly assigned
partition starts at its end offset as of the joining client's welcome, so nothing between the
welcome and the first fetch is lost (DESIGN.md section 7). What becomes of each record read
is :mod:`nexus_gateway.fanout`'s business; records Kafka deleted before they were read are
:mod:`nexus_gateway.delivery_losses`'.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

from nexus_gateway.catchup import CatchUp
from nexus_gateway.connection import Connection
from nexus_gateway.delivery_losses import Losses
from nexus_gateway.fanout import Fanout
from nexus_gateway.hub import ConnectionHub, DeliveredHook
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import CloseCode, new_connection_id
from nexus_gateway.record_rules import DeliveryLimit
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import KafkaUnavailableError, TopicMissingError
from nexus_mesh.kafka.connection import client_kwargs, stop_quietly
from nexus_mesh.kafka.metadata_backoff import pace_consumer
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.position import Position
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tasks import cancel_and_wait
from nexus_mesh.tracing import Telemetry

log = logging.getLogger(__name__)

FETCH_BYTES_PER_PARTITION = 256 * 1024


class Dispatcher:
    """The pod's one consumer of client-bound topics, and which partitions it holds."""

    def __init__(
        self,
        *,
        settings: NexusSettings,
        codec: Codec,
        hub: ConnectionHub,
        metrics: GatewayMetrics,
        on_delivered: DeliveredHook | None = None,
        awaited: Callable[[Envelope], bool] | None = None,
        client_id: str = "nexus-gateway",
        telemetry: Telemetry | None = None,
        before_relayout: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``before_relayout`` runs when the client-bound topic's partition count changed,
        before this pod follows: the pod's producer learns the new count there, so that
        what it acknowledges next is placed where the readers now look."""
        self._before_relayout = before_relayout
        self._hub = hub
        self._metrics = metrics
        self._topics = TopicNames(prefix=settings.topic_prefix)
        self._consumer = AIOKafkaConsumer(
            **client_kwargs(settings),
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            # Never jump: a position that left the log raises OffsetOutOfRangeError from
            # getmany(), and Losses.follow() reads on from the log start, closes the
            # connections that missed records and says so. "latest" skipped to the end in
            # silence, past records Kafka still held.
            auto_offset_reset="none",
            # A transactional writer's aborted events never reach a client, and its open
            # transactions are delivered once committed. Everything written after an open
            # transaction on its partition waits for it too (Kafka's last stable offset):
            # the lag counts up to the high watermark, so that wait shows.
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            # One fetch lands in every target's outbox at once: keep that burst well under
            # the smallest allowed per-connection buffer.
            max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION,
        )
        pace_consumer(self._consumer)
        self._clients_partitions = 0
        self._system: list[TopicPartition] = []
        self._next: dict[TopicPartition, int] = {}
        self._refs: dict[int, int] = defaultdict(int)
        # The clients partition each connection holds, as computed when it joined: after a
        # change of partition count, campaign_partition() would name another one.
        self._held: dict[str, TopicPartition] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._consumer_started = False
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._reachable = False
        self._ends: dict[TopicPartition, int] = {}
        self._losses = Losses(
            consumer=self._consumer,
            topics=self._topics,
            metrics=metrics,
            hub=hub,
            next_offsets=self._next,
            held=self._held,
            close=self._close_now,
            partitions=lambda: self._clients_partitions,
            system=lambda: self._system,
        )
        self._fanout = Fanout(
            codec=codec,
            hub=hub,
            metrics=metrics,
            telemetry=telemetry or Telemetry(),
            system_topic=self._topics.system,
            partition_of=self.partition_of,
            position=self.position,
            partitions=lambda: self._clients_partitions,
            limit=DeliveryLimit(metrics, settings.gateway_max_delivery_bytes),
            on_delivered=on_delivered,
            awaited=awaited,
        )

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
        for task in (self._watch_task, self._task, *self._closing):
            await cancel_and_wait(task)
        self._reachable = False  # nobody asks Kafka any more: /readyz must not say it answers
        await stop_quietly(self._consumer.stop())

    @property
    def reachable(self) -> bool:
        """The broker answered within the last few seconds."""
        return self._reachable

    @property
    def healthy(self) -> bool:
        """Delivery runs and the broker answered within the last few seconds."""
        return self._reachable and self._task is not None and not self._task.done()

    def lag(self) -> dict[TopicPartition, int]:
        """Records on each assigned partition not yet delivered (as of the last check).

        Up to the high watermark, not the last stable offset read_committed end offsets
        stop at: records behind another producer's open transaction wait for it (a hung one
        for up to its transaction.timeout.ms), and the lag must show them. The end offsets
        count too, when the last fetch is older than the last check (fetches refused)."""
        lag = {}
        for tp, nxt in self._next.items():
            end = max(self._ends.get(tp, nxt), self._consumer.highwater(tp) or 0)
            lag[tp] = max(0, end - nxt)
        return lag

    async def _watch(
        self, interval_s: float = 2.0, timeout_s: float = 4.0, layout_every: int = 5
    ) -> None:
        # A fetch against a dead broker just returns nothing, so reachability is probed
        # explicitly; the same answer gives the end offsets for the lag figures.
        rounds = 0
        lost_at: float | None = None
        while True:
            rounds += 1
            try:
                async with asyncio.timeout(timeout_s):
                    self._ends = await self._consumer.end_offsets(list(self._next))
                    if rounds % layout_every == 0:
                        await self._check_layout()
                self._reachable = True
                if lost_at is not None:
                    # The outage's end is news too: an operator reading the log otherwise
                    # cannot tell whether the warning above still holds.
                    gone = asyncio.get_running_loop().time() - lost_at
                    log.info("Kafka reachable again from the delivery consumer after %.0f s", gone)
                    lost_at = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._reachable:
                    # A timeout's text is empty: say what it means.
                    reason = str(exc) or f"no answer within {timeout_s:g} s"
                    log.warning("Kafka unreachable from the delivery consumer: %s", reason)
                    lost_at = asyncio.get_running_loop().time()
                self._reachable = False
            await asyncio.sleep(interval_s)

    async def _check_layout(self) -> None:
        """Follow partitions added to the client-bound topics (producers follow within their
        metadata refresh, ~5 minutes): otherwise the campaigns that moved would be read on
        their old partition for as long as the pod runs, and receive nothing."""
        await self._consumer._client.force_metadata_update()
        clients = len(self._consumer.partitions_for_topic(self._topics.clients) or ())
        if clients and clients != self._clients_partitions:
            log.error(
                "%s now has %d partitions, not %d: campaigns moved, so every connection is "
                "closed to join again on the new layout (its resume reports recovered=false)",
                self._topics.clients,
                clients,
                self._clients_partitions,
            )
            if self._before_relayout is not None:
                await self._before_relayout()
            self._clients_partitions = clients
            # Out of the hub at once, their partitions given back: until each close ends,
            # nothing may look a connection's partition up by the new count.
            self._close_now(list(self._hub), "the mesh's partitions changed: reconnect and resume")
        system = self._consumer.partitions_for_topic(self._topics.system) or set()
        added = [
            TopicPartition(self._topics.system, p)
            for p in sorted(system)
            if TopicPartition(self._topics.system, p) not in self._system
        ]
        if added:
            # Created since this pod last looked: everything on them is new to it.
            firsts = await self._consumer.beginning_offsets(added)
            log.warning(
                "%s gained partitions %s", self._topics.system, [tp.partition for tp in added]
            )
            for tp in added:
                self._next[tp] = firsts[tp]
            self._system.extend(added)
            self._reassign()
            self._update_gauges()

    def _close_now(self, connections: Iterable[Connection], message: str) -> None:
        """Take ``connections`` out of the hub and give their partitions back at once, then
        close them (1001, resumable) in the background."""
        for connection in connections:
            self._hub.remove(connection)
            self._release_now(self._held.pop(connection.id))
            task = asyncio.create_task(connection.close(CloseCode.GOING_AWAY, message))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

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
            start = None if since is None else await self._losses.resume_start(tp, since)
            if tp.partition != self.partition_of(connection.identity.campaign_id):
                raise KafkaUnavailableError("the mesh's partitions changed while joining")
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
        if start is not None:
            if (start.offset, start.system) != (current.offset, current.system):
                job = CatchUp(
                    connection=connection,
                    clients=tp,
                    system=tuple(self._system),
                    since=start,
                    clients_target=current.offset,
                    system_targets=current.system,
                )
                connection.begin_catch_up()
            # Not recovered when records after ``since`` were lost: the replay starts after
            # them, at what Kafka still holds.
            welcome(start, start == since)
        else:
            welcome(current, False)
        self._hub.add(connection)
        self._held[connection.id] = tp
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
        self._release_now(tp)

    def _release_now(self, tp: TopicPartition) -> None:
        # No await: it never interleaves with another hold's check and count.
        self._refs[tp.partition] -= 1
        if self._refs[tp.partition] <= 0:
            del self._refs[tp.partition]
            self._next.pop(tp, None)
            self._reassign()
        self._update_gauges()

    async def leave(self, connection: Connection) -> None:
        if self._hub.get(connection.id) is not connection:
            return  # never registered: a failed join released its own hold
        self._hub.remove(connection)
        await self._release(self._held.pop(connection.id))

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
            except OffsetOutOfRangeError as exc:
                # The records of the partitions before it were returned by the calls before.
                if not await self._losses.follow(exc):
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                continue
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
                        self._fanout.deliver(tp, record)
                    except Exception:
                        # One record that cannot be delivered must not stop delivery for
                        # every client of this pod; it is logged, counted and skipped. A
                        # fault of the gateway's, not the record's: counted apart from
                        # undecodable records, which page as a producer's problem.
                        self._metrics.delivery_failures.inc()
                        log.exception(
                            "could not deliver %s-%s@%s", tp.topic, tp.partition, record.offset
                        )
            await self._pass_markers()

    async def _pass_markers(self) -> None:
        """Move each partition's next offset past what the consumer skipped on its own.

        A transaction's commit or abort marker takes an offset no consumer is handed (and a
        compacted or aborted batch leaves gaps): without this, the lag would stay one above
        zero after every transactional write, and a welcome position would point at a marker.
        """
        for tp, nxt in list(self._next.items()):
            try:
                highwater = self._consumer.highwater(tp)
                if highwater is None or highwater <= nxt:
                    continue  # nothing after the next offset to skip: the usual case
                position = await self._consumer.position(tp)
            except Exception as exc:
                # Only a partition being reset can make this wait, and one dropped meanwhile
                # raises: either way its next offset stays as it is until the next batch.
                log.debug("no position for %s-%s yet: %r", tp.topic, tp.partition, exc)
                continue
            if position > self._next.get(tp, position):
                self._next[tp] = position
