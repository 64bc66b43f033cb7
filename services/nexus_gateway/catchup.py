"""Replay for a resumed connection: the events after its ``since`` position, then live.

The shared delivery consumer never rewinds (that would stall every other campaign of the
partition); each resumption reads its own gap with a short-lived consumer, bounded in number,
while the live frames that arrive meanwhile are held on the connection and released after
the replay, so the client sees one ordered stream with no gap and no duplicate.

A replay waits at most ``NEXUS_GATEWAY_REPLAY_TIMEOUT_S`` for its turn (the same user's
earlier replay, then one of the pod's slots), and then has as long again from the moment it
has one. Its client, already welcomed ``recovered``, hears nothing while it queues (its live
frames are held, within its outbox bound): that silence is bounded. Once it streams, the time
it queued is not taken from it, so a slot's work is not thrown away near a deadline. A replay
that does not finish raises :class:`ReplayUnfinishedError`, counted by reason; its connection is
closed with 1001 and resumes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from nexus_gateway.client_frame import SENDER_USER_ATTRIBUTE
from nexus_gateway.connection import Connection
from nexus_gateway.hub import DeliveredHook, routes_to
from nexus_gateway.idempotency import AckRecord, IdempotencyWindow
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import event_frame
from nexus_gateway.record_rules import DeliveryLimit, misplaced, repeat_key, written_by
from nexus_gateway.send_span import send_traced
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, NexusError
from nexus_mesh.kafka.connection import client_kwargs, stop_quietly
from nexus_mesh.kafka.metadata_backoff import pace_consumer
from nexus_mesh.kafka.records import CAMPAIGN_HEADER, header
from nexus_mesh.position import Position
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tasks import run_detached
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.records import record_span
from nexus_mesh.tracing.spans import REPLAY

log = logging.getLogger(__name__)
REPLAY_FETCH_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class CatchUp:
    """What one resumed connection must replay: from ``since`` up to (excluding) the targets."""

    connection: Connection
    clients: TopicPartition
    system: tuple[TopicPartition, ...]
    since: Position
    clients_target: int
    system_targets: tuple[int, ...]


class ReplayUnfinishedError(NexusError):
    """A replay that did not finish for ``reason`` (a label of
    ``nexus_gateway_replays_unfinished_total``); its message says why, never empty. Retriable:
    the client resumes again from the same position and loses nothing."""

    retriable = True

    def __init__(self, reason: str, why: str) -> None:
        super().__init__(why)
        self.reason = reason

    @property
    def close_message(self) -> str:
        """The 1001 close's message for the client: short (a close reason holds 123 bytes)."""
        return f"resume interrupted ({_CLOSE_REASONS[self.reason]}): reconnect and resume"


_CLOSE_REASONS = {
    "slot_timeout": "no replay slot in time",
    "replay_timeout": "replay took too long",
    "kafka_error": "Kafka error",
    "failed": "gateway error",
}


def _gap(job: CatchUp) -> int:
    """Records between the position and the targets (other campaigns' included)."""
    gap = job.clients_target - job.since.offset
    return gap + sum(t - s for t, s in zip(job.system_targets, job.since.system, strict=True))


def describe_error(exc: BaseException) -> str:
    """The exception's type and text, never empty (``str(TimeoutError())`` is), and the
    type once (aiokafka's errors name it in their text already)."""
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


class CatchUpReader:
    def __init__(
        self,
        *,
        settings: NexusSettings,
        codec: Codec,
        metrics: GatewayMetrics,
        client_id: str,
        max_parallel: int = 4,
        timeout_s: float | None = None,
        on_delivered: DeliveredHook | None = None,
        telemetry: Telemetry | None = None,
        idempotency: IdempotencyWindow | None = None,
    ) -> None:
        """``on_delivered`` sees every replayed event, as the live path's hook does: a
        replayed reply answers its request. Each replayed event is traced as live delivery
        traces it (``process <topic>`` under its producer span, then ``ws send``), so a reply
        that reaches its client through a resume still ends its trace."""
        self._on_delivered = on_delivered
        self._idempotency = idempotency
        self._limit = DeliveryLimit(metrics, settings.gateway_max_delivery_bytes)
        self._telemetry = telemetry or Telemetry()
        self._settings = settings
        self._codec = codec
        self._metrics = metrics
        self._client_id = client_id
        self._slots = asyncio.Semaphore(max_parallel)
        self._max_parallel = max_parallel
        self._waiting = 0  # replays waiting for their turn (the gauge's, for the log)
        # One replay per user of a campaign at a time, queued before it takes a slot: a
        # user resuming many connections from an old position holds one of the pod's few
        # slots, not all of them.
        self._users: dict[tuple[str, str], asyncio.Lock] = {}
        self._queued: dict[tuple[str, str], int] = {}
        # How long a replay may wait for its turn, and then run (settings: 60 s).
        self._timeout_s = settings.gateway_replay_timeout_s if timeout_s is None else timeout_s
        self._stall_s = settings.gateway_replay_stall_s

    async def replay(self, job: CatchUp) -> None:
        """Send the missed events to ``job.connection``.

        Raises :class:`ReplayUnfinishedError` when it cannot: no slot within the timeout, not done
        within the timeout of getting one, or Kafka failed. Every replay that does not finish
        is counted by reason, one cancelled (its connection ended) or cut short by its
        connection closing as ``gone``.
        """
        ident = job.connection.identity
        try:
            async with self._turn((ident.campaign_id, ident.user_id)) as waited:
                # Counted from the slot: a replay that queued for most of its time is not
                # cut off once its client has started to receive it.
                deadline = asyncio.timeout(self._timeout_s)
                try:
                    async with deadline:
                        finished = await self._run(job)
                except TimeoutError:
                    if not deadline.expired():
                        raise  # one of aiokafka's own: a Kafka error below
                    raise ReplayUnfinishedError(
                        "replay_timeout",
                        f"timed out after {self._timeout_s:g} s replaying a gap of "
                        f"{_gap(job)} records (after {waited:.1f} s waiting for a slot)",
                    ) from None
        except ReplayUnfinishedError as unfinished:
            self._metrics.replays_unfinished.labels(unfinished.reason).inc()
            raise
        except asyncio.CancelledError:
            self._metrics.replays_unfinished.labels("gone").inc()
            raise
        except (KafkaError, OSError, TimeoutError) as exc:
            self._metrics.replays_unfinished.labels("kafka_error").inc()
            raise ReplayUnfinishedError(
                "kafka_error", f"Kafka failed: {describe_error(exc)}"
            ) from exc
        except Exception as exc:
            self._metrics.replays_unfinished.labels("failed").inc()
            raise ReplayUnfinishedError("failed", f"replay failed: {describe_error(exc)}") from exc
        if not finished:
            self._metrics.replays_unfinished.labels("gone").inc()

    async def _run(self, job: CatchUp) -> bool:
        """Replay with a consumer of its own; False when the connection ended first."""
        consumer = AIOKafkaConsumer(
            **client_kwargs(self._settings),
            client_id=f"{self._client_id}-catchup",
            group_id=None,
            enable_auto_commit=False,
            # Never jump: a position that left the log meanwhile is an error (the client
            # resumes again and is told recovered=false), not a silent skip to the end.
            auto_offset_reset="none",
            # As live delivery reads: a replay shows what the live stream showed.
            isolation_level="read_committed",
            # Small fetches, so one batch never overflows the connection's outbox.
            max_partition_fetch_bytes=REPLAY_FETCH_BYTES,
        )
        pace_consumer(consumer)
        # Shielded: aiokafka's start cancelled while it bootstraps leaves that connection
        # open and untracked (its client catches only Kafka errors and timeouts around the
        # metadata request), which no stop() closes. A cancellation (the deadline, the client
        # leaving) ends this wait at once; the start runs on, and the consumer is stopped
        # when it ends.
        starting = asyncio.ensure_future(consumer.start())
        try:
            await asyncio.shield(starting)
            return await self._read(consumer, job)
        finally:
            await self._stop(consumer, starting)

    async def _stop(self, consumer: AIOKafkaConsumer, starting: asyncio.Future[None]) -> None:
        """Stop ``consumer`` once its start ended (stop() is safe after a failed start: it
        closes what the client opened). Detached, so that a cancellation of the caller never
        cuts it short, which would leave its connections open and its metadata task running;
        waited for unless the start is still under way."""
        stopped = asyncio.Event()

        async def stop() -> None:
            try:
                await asyncio.wait({starting})
                if not starting.cancelled():
                    starting.exception()  # told by the replay already
                await stop_quietly(consumer.stop())
            finally:
                stopped.set()

        run_detached(stop(), name=f"{self._client_id}-catchup-stop")
        if starting.done():
            await stopped.wait()

    @contextlib.asynccontextmanager
    async def _turn(self, user: tuple[str, str]) -> AsyncIterator[float]:
        """Held while a replay runs: the user's turn first, then one of the pod's slots,
        both within the timeout; yields how long it waited for them."""
        lock = self._users.setdefault(user, asyncio.Lock())
        self._queued[user] = self._queued.get(user, 0) + 1
        loop = asyncio.get_running_loop()
        asked = loop.time()
        try:
            async with contextlib.AsyncExitStack() as held:
                with self._metrics.replays.labels("waiting").track_inprogress():
                    self._waiting += 1
                    turn = False
                    try:
                        async with asyncio.timeout(self._timeout_s) as wait:
                            await held.enter_async_context(lock)
                            turn = True
                            await held.enter_async_context(self._slots)
                    except TimeoutError:
                        if not wait.expired():
                            raise
                        raise ReplayUnfinishedError(
                            "slot_timeout", self._queue_report(turn=turn)
                        ) from None
                    finally:
                        self._waiting -= 1
                with self._metrics.replays.labels("running").track_inprogress():
                    yield loop.time() - asked
        finally:
            self._queued[user] -= 1
            if not self._queued[user]:
                del self._queued[user], self._users[user]

    def _queue_report(self, *, turn: bool) -> str:
        """Why a replay got no slot: the queue it stood in."""
        timed_out = f"timed out after {self._timeout_s:g} s waiting for a replay slot"
        if not turn:
            return f"{timed_out}: still behind this user's earlier replay"
        return f"{timed_out} ({self._waiting} waiting, all {self._max_parallel} slots busy)"

    async def _read(self, consumer: AIOKafkaConsumer, job: CatchUp) -> bool:
        """Send the gap; False when the connection ended first (closing, or closed as slow)."""
        targets = {job.clients: job.clients_target}
        targets.update(zip(job.system, job.system_targets, strict=True))
        progress = {job.clients: job.since.offset}
        progress.update(zip(job.system, job.since.system, strict=True))
        fetching = {tp for tp in targets if progress[tp] < targets[tp]}
        if not fetching:
            return True
        consumer.assign(list(fetching))
        for tp in fetching:
            consumer.seek(tp, progress[tp])
        # Fetched, not yet sent. The campaign's partition and the system partitions are merged
        # by record time, so the replay interleaves them as live delivery did, instead of one
        # partition's whole gap after the other's.
        # In a fixed order (the campaign's partition first): records of one millisecond then
        # come out the same way in every process, not in a set's hash order.
        held: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {
            tp: deque() for tp in targets if tp in fetching
        }
        connection = job.connection
        while fetching or any(held.values()):
            # Only the partitions with nothing held need more: the merge waits for them.
            wanted = [tp for tp in fetching if not held[tp]]
            if wanted:
                # Let the client take what was queued before reading more: the replay must
                # fit the same outbox bound as live delivery instead of tripping its 4008.
                # Only what the writer can drain counts here: the live frames held behind
                # the replay leave after it, and waiting for them would wait forever.
                loop = asyncio.get_running_loop()
                stalled_since = loop.time()
                while connection.outbox_bytes > connection.max_buffer_bytes // 2:
                    if connection.closing:
                        return False
                    if loop.time() - stalled_since > self._stall_s:
                        # Stopped reading: it gives its replay slot back and resumes later,
                        # from the last position it did read.
                        log.info(
                            "connection %s took nothing of its replay for %g s: closing 4008",
                            connection.id,
                            self._stall_s,
                        )
                        connection.close_as_slow()
                        return False
                    await asyncio.sleep(0.01)
                batches = await consumer.getmany(*wanted, timeout_ms=500, max_records=500)
                for tp, records in batches.items():
                    held[tp].extend(r for r in records if r.offset < targets[tp])
                for tp in wanted:
                    # Control records (transaction markers) occupy offsets without a record,
                    # so the end is judged by the fetch position, not only by records seen.
                    if await consumer.position(tp) >= targets[tp]:
                        fetching.discard(tp)
            while all(held[tp] for tp in fetching) and any(held.values()):
                tp = min((t for t in held if held[t]), key=lambda t: held[t][0].timestamp)
                record = held[tp].popleft()
                progress[tp] = record.offset + 1
                if not self._replay_one(job, tp, record, progress):
                    return False  # closed as slow or gone: it resumes again later
        return True

    def _replay_one(
        self,
        job: CatchUp,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        progress: dict[TopicPartition, int],
    ) -> bool:
        """Send ``record`` if it is for this connection; False once the connection refuses
        frames (closing, or over its outbox bound)."""
        if record.value is None:
            return True
        if tp == job.clients:
            # Most of a partition is other campaigns': the header says so without decoding.
            campaign = header(record.headers, CAMPAIGN_HEADER)
            if campaign is not None and campaign != job.connection.identity.campaign_id:
                return True
        try:
            envelope = self._codec.decode(record.value)
        except CodecError as exc:
            self._metrics.undecodable.inc()
            log.warning(
                "replay for connection %s: skipping undecodable record %s-%s@%s (%s): %s",
                job.connection.id,
                tp.topic,
                tp.partition,
                record.offset,
                written_by(record),
                exc,
                extra=repeat_key(record, type(exc).__name__),
            )
            return True
        clients = tp == job.clients
        if clients:
            self._learn_own(job, tp, record, envelope)
            if not routes_to(envelope.metadata, job.connection.identity):
                return True
        # Counted and logged by live delivery, which read it first (or will).
        if misplaced(self._codec.registry, envelope, system=not clients) is not None:
            return True
        frame = self._frame(job, envelope, progress)
        if not self._limit.admits(envelope, frame, record):
            return True  # skipped, as live delivery skips it: the replay goes on
        if not self._telemetry.enabled:
            sent = self._send(job, envelope, frame)
        else:
            tracer = self._telemetry.tracer
            with record_span(tracer, record, envelope) as span:
                # What tells a replay from a second live delivery of the same record.
                span.set_attribute(REPLAY, True)
                taken = send_traced(
                    tracer,
                    envelope,
                    [job.connection],
                    lambda: int(self._send(job, envelope, frame)),
                )
            sent = taken == 1
        if sent:
            self._metrics.events_out.labels(envelope.type).inc()
        return sent

    def _learn_own(
        self,
        job: CatchUp,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope,
    ) -> None:
        """Remember an event this user sent (a gateway names its sender in its attributes)
        as written: the client resumes to resend what it got no ack for, and the gateway that
        wrote it may be gone (a crash, another pod), taking its memory of the write along."""
        ident = job.connection.identity
        meta = envelope.metadata
        if self._idempotency is None or meta.campaign_id != ident.campaign_id:
            return
        # Only what a resend could still be owed: the window from the write, plus the time
        # its ack could take. An older one would count against the user's bound and push
        # out the acks of their recent events.
        settings = self._settings
        horizon_s = settings.gateway_idempotency_window_s + settings.gateway_produce_timeout_s
        if record.timestamp < (time.time() - horizon_s) * 1000:
            return
        attributes = meta.attributes or {}
        if attributes.get(SENDER_USER_ATTRIBUTE) != ident.user_id:
            return
        self._idempotency.remember(
            (ident.campaign_id, ident.user_id, meta.event_id),
            AckRecord(topic=tp.topic, partition=tp.partition, offset=record.offset),
        )

    def _frame(
        self, job: CatchUp, envelope: Envelope, progress: dict[TopicPartition, int]
    ) -> bytes:
        position = Position(
            partitions=job.since.partitions,
            partition=job.clients.partition,
            offset=progress[job.clients],
            system=tuple(progress[s] for s in job.system),
        )
        payload = self._codec.payload_to_json(envelope.type, envelope.payload)
        return event_frame(envelope, payload, position.encode())

    def _send(self, job: CatchUp, envelope: Envelope, frame: bytes) -> bool:
        if self._on_delivered is not None:
            self._on_delivered(envelope, [job.connection])
        return job.connection.send_direct(frame)
