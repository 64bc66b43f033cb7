"""An idempotent, acks=all producer of envelopes: a write is reported only once Kafka has it.

Every write is a ``send <topic>`` producer span (DESIGN.md section 8). Its parent is the
current span (a gateway's ``ws receive``, a service's ``process``), else the trace context the
envelope already carries; the envelope then goes out naming the producer span as the parent,
in its ``metadata.traceparent`` and in the record's headers alike.

A write goes only to a topic the cluster already has (see :mod:`nexus_mesh.kafka.known_topics`):
otherwise the producer's own metadata request would let the broker create it.

An idempotent producer numbers its records per partition, and the broker takes the next
number only. aiokafka can use a number up without writing (a batch expired while its
partition had no leader) and never puts its numbering right again: every later write to that
partition would be refused until the process restarts (aio-libs/aiokafka#1017). Such a
refusal replaces the producer with one of a new producer id, which the broker numbers afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownProducerId,
)
from aiokafka.structs import RecordMetadata
from opentelemetry import trace
from opentelemetry.context import Context

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import KafkaUnavailableError, ProduceRejectedError, WriteInDoubtError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.known_topics import KnownTopics
from nexus_mesh.kafka.metadata_backoff import pace_failed_metadata_updates
from nexus_mesh.kafka.records import Headers, RawHeaders, header, record_headers, record_key
from nexus_mesh.kafka.topics import METADATA_MAX_AGE_MS
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tracing import Telemetry, context_from_headers, context_from_metadata, trace_fields
from nexus_mesh.tracing.spans import send_span, written

# How stale a listing of the cluster's topics may be to answer a write to a topic it lacked:
# bounds the metadata requests a stream of events for a missing topic costs, and how late a
# running process notices a topic that `nexus topics ensure` has just created.
_MISSING_TOPIC_RECHECK_S = 1.0
# A record over a size limit: aiokafka's own (max_request_size) or the broker's
# (message.max.bytes, per record or per batch).
_TOO_LARGE = (RecordTooLargeError, MessageSizeTooLargeError, RecordListTooLargeError)
# The broker's refusals of a producer id's numbering: the batch was not written, and no
# later one to its partition will be under that id.
_DESYNCED = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)
# Between attempts to start a replacement while Kafka cannot be reached.
_REPLACE_RETRY_S = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Written:
    """Where Kafka stored a record."""

    topic: str
    partition: int
    offset: int


class EnvelopeProducer:
    """Encodes envelopes and writes them keyed by campaign, with the headers of section 4."""

    def __init__(
        self,
        *,
        settings: NexusSettings,
        codec: Codec,
        client_id: str,
        send_timeout_s: float = 10.0,
        linger_ms: int = 1,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._codec = codec
        self._send_timeout_s = send_timeout_s
        self._telemetry = telemetry or Telemetry()
        self._started = False
        self._settings = settings
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._producer = self._new_producer()
        self._replacing: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()  # replaced producers, flushing
        self.replacements = 0
        """How many times a refused numbering replaced the producer."""
        self._topics = KnownTopics(self._list_topics, recheck_after_s=_MISSING_TOPIC_RECHECK_S)

    def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **client_kwargs(self._settings),
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            # Partitions added to a topic move campaigns: writes follow within a minute, not
            # the clients' default five, during which a moved campaign's events land where
            # its readers no longer look.
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        # A write waiting for a partition's leader while no broker answers would otherwise
        # retry the metadata at once, thousands of times a second (aio-libs/aiokafka#496).
        pace_failed_metadata_updates(producer.client)
        return producer

    async def start(self) -> None:
        """Connect; safe to call again after a failed or successful start."""
        if self._started:
            return
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise KafkaUnavailableError(f"producer cannot reach Kafka: {exc}") from exc
        self._started = True

    async def stop(self) -> None:
        self._started = False
        if self._replacing is not None:
            self._replacing.cancel()
            await asyncio.gather(self._replacing, return_exceptions=True)
        if self._retiring:
            # A replaced producer flushing to a partition without a leader could take
            # aiokafka's request timeout: a stop does not wait longer than a write would.
            _, late = await asyncio.wait(self._retiring, timeout=self._send_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._producer.stop()

    async def refresh_metadata(self) -> None:
        """Learn the cluster's topics and partition counts now (a layout change seen
        elsewhere), so the next writes are placed by them."""
        await self._producer.client.force_metadata_update()

    async def send(
        self,
        envelope: Envelope,
        *,
        topic: str,
        extra_headers: Headers | None = None,
        queued: Callable[[], object] | None = None,
    ) -> Written:
        """Write ``envelope`` and wait for acks=all; raise a retriable error if Kafka can't.

        Raises :class:`~nexus_mesh.errors.TopicMissingError` (not retriable) at once when the
        cluster has no ``topic``; nothing is written then.

        With tracing on, the record carries a copy of ``envelope`` whose trace context names
        the producer span; ``envelope`` itself is left as it was.

        ``queued`` is called once the record is in the producer's queue, before its acks:
        records are sent in queue order, so a caller may start its next write then and keep
        the order.
        """
        if not self._telemetry.enabled:
            return await self._write(
                topic, record_key(envelope), *self._encode(envelope, extra_headers), queued
            )
        meta = envelope.metadata
        parent = None if _in_span() else context_from_metadata(meta)
        # The span must exist before encoding: its id goes into the encoded metadata.
        with send_span(
            self._telemetry.tracer,
            topic=topic,
            key=meta.campaign_id,
            event_type=envelope.type,
            event_id=meta.event_id,
            campaign_id=meta.campaign_id,
            parent=parent,
        ) as span:
            fields = trace_fields(span)
            if fields is not None and fields != (meta.traceparent, meta.tracestate):
                envelope = envelope.with_metadata(meta.with_trace_context(*fields))
            value, headers = self._encode(envelope, extra_headers)
            result = await self._write(topic, record_key(envelope), value, headers, queued)
            written(span, partition=result.partition, offset=result.offset)
            return result

    def _encode(self, envelope: Envelope, extra_headers: Headers | None) -> tuple[bytes, Headers]:
        value = self._codec.encode(envelope)
        headers = record_headers(envelope)
        if extra_headers:
            headers.extend(extra_headers)
        return value, headers

    async def send_raw(
        self, *, topic: str, key: bytes | None, value: bytes, headers: RawHeaders
    ) -> Written:
        """Write prepared bytes as they are (a dead letter keeps the original headers, trace
        context included); traced as a producer span, but nothing is rewritten."""
        if not self._telemetry.enabled:
            return await self._write(topic, key, value, headers)
        parent: Context | None = None if _in_span() else context_from_headers(headers)
        with send_span(
            self._telemetry.tracer,
            topic=topic,
            key=key.decode(errors="replace") if key is not None else None,
            event_type=header(headers, "ce_type"),
            event_id=header(headers, "ce_id"),
            campaign_id=header(headers, "nexus-campaign"),
            parent=parent,
        ) as span:
            result = await self._write(topic, key, value, headers)
            written(span, partition=result.partition, offset=result.offset)
            return result

    async def _write(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: RawHeaders,
        queued: Callable[[], object] | None = None,
    ) -> Written:
        producer = self._producer
        pending: asyncio.Future[RecordMetadata] | None = None
        try:
            # One deadline covers waiting for metadata, buffer space and the acks.
            async with asyncio.timeout(self._send_timeout_s):
                await self._topics.require(topic)
                producer = self._producer  # the one current now, after that wait
                pending = await producer.send(topic, value=value, key=key, headers=headers)
                if queued is not None:
                    queued()
                metadata = await asyncio.shield(pending)
        except TimeoutError as exc:
            if pending is not None and pending.done() and not pending.cancelled():
                # Settled in the very turn the deadline fired: that outcome is the answer (a
                # stored record reported as not written would be written again).
                failure = pending.exception()
                if failure is None:
                    return _written(pending.result())
                if isinstance(failure, KafkaError):
                    raise self._refusal(topic, failure, producer) from failure
            message = (
                f"Kafka did not acknowledge a write to {topic} within {self._send_timeout_s:g} s"
            )
            if pending is not None and not pending.done():
                # Queued but unacknowledged: the producer keeps retrying it, so it may still
                # land. Callers must not treat it as lost (see WriteInDoubtError).
                raise WriteInDoubtError(message, delivery=pending) from exc
            raise KafkaUnavailableError(message) from exc
        except KafkaError as exc:
            raise self._refusal(topic, exc, producer) from exc
        return _written(metadata)

    def _refusal(self, topic: str, exc: KafkaError, producer: AIOKafkaProducer) -> Exception:
        """What a caller is told of a write Kafka did not take."""
        if isinstance(exc, ProducerClosed) and producer is not self._producer:
            # Replaced while this write waited for metadata or buffer space: not written,
            # and the next attempt goes through the new producer.
            return KafkaUnavailableError(
                f"the write to {topic} was not sent: its producer was being replaced, retry"
            )
        if isinstance(exc, _DESYNCED):
            self._replace(producer, exc)
            return KafkaUnavailableError(
                f"Kafka refused a write to {topic}: {exc!r}; the producer is replaced by one "
                "with a new producer id, retry"
            )
        # aiokafka marks what a later attempt can fix; its own timeout (a batch that
        # expired while the broker was away) is an outage too, though unmarked.
        if exc.retriable or isinstance(exc, KafkaTimeoutError):
            return KafkaUnavailableError(f"Kafka refused a write to {topic}: {exc}")
        return ProduceRejectedError(
            f"Kafka refused a write to {topic}: {exc!r}", too_large=isinstance(exc, _TOO_LARGE)
        )

    def _replace(self, failed: AIOKafkaProducer, reason: KafkaError) -> None:
        # Once per failed producer: its other writes in flight are refused the same way.
        if failed is not self._producer or self._replacing is not None or not self._started:
            return
        log.warning(
            "Kafka refused this producer's record numbering (%s): replacing it by a producer "
            "with a new producer id",
            type(reason).__name__,
        )
        self._replacing = asyncio.create_task(self._swap(failed), name="nexus-producer-replace")

    async def _swap(self, failed: AIOKafkaProducer) -> None:
        fresh: AIOKafkaProducer | None = None
        try:
            while True:
                fresh = self._new_producer()
                try:
                    await fresh.start()
                    break
                except KafkaError as exc:
                    await fresh.stop()
                    fresh = None
                    log.warning("cannot start the replacement producer yet: %s", exc)
                    await asyncio.sleep(_REPLACE_RETRY_S)  # a retry's pace, not a wait on state
        except BaseException:
            if fresh is not None:  # stopped while starting: nothing is left running
                await fresh.stop()
            raise
        finally:
            self._replacing = None
        # Until now writes went on through the failed producer: only the refused
        # partitions' writes failed, and a retry of one of those lands here.
        self._producer = fresh
        self.replacements += 1
        log.info("producer replaced; writes go through the new producer id")
        # What the failed one still holds for other partitions is written, or refused like
        # the rest; stop() waits for it.
        retiring = asyncio.create_task(failed.stop(), name="nexus-producer-retire")
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retired)

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("the replaced producer failed to stop: %r", task.exception())

    async def _list_topics(self) -> set[str]:
        # A request for all topics names none, so the broker creates none: unlike the
        # producer's own metadata request for the topic it is about to write to.
        try:
            cluster = await self._producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise KafkaUnavailableError(f"cannot list Kafka topics: {exc}") from exc
        topics: set[str] = cluster.topics()
        return topics


def _written(metadata: RecordMetadata) -> Written:
    return Written(topic=metadata.topic, partition=metadata.partition, offset=metadata.offset)


def _in_span() -> bool:
    return trace.get_current_span().get_span_context().is_valid
