"""One consumed record to the connections of this pod that want it: decode once, write to many.

A record delivered to connections here is a ``process <prefix>.clients`` consumer span (the
child of the span that produced it) with one ``ws send`` span per fan-out beneath it. A
record no connection of this pod wants gets no span: every pod that reads its partition
sees it, and only the delivery matters to the interaction's trace.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from aiokafka import ConsumerRecord, TopicPartition
from opentelemetry.trace import INVALID_SPAN, Span

from nexus_gateway.connection import Connection
from nexus_gateway.hub import ConnectionHub, DeliveredHook
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import event_frame
from nexus_gateway.record_rules import DeliveryLimit, misplaced, repeat_key, written_by
from nexus_gateway.send_span import send_traced
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError
from nexus_mesh.kafka.records import CAMPAIGN_HEADER, header
from nexus_mesh.position import Position
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.records import record_span
from nexus_mesh.tracing.spans import record_error

log = logging.getLogger(__name__)
# Said once per campaign (at most MISROUTED_LOGGED), so not held back by the repeat filter
# on this module's logger: a partition-count change misroutes many campaigns at once.
misrouted_log = logging.getLogger("nexus_gateway.misrouted")

# Campaigns whose misrouted records are logged (once each); past that, only counted.
MISROUTED_LOGGED = 1000


class Fanout:
    """Turns each record the dispatcher reads into frames on the connections it is for."""

    def __init__(
        self,
        *,
        codec: Codec,
        hub: ConnectionHub,
        metrics: GatewayMetrics,
        telemetry: Telemetry,
        system_topic: str,
        partition_of: Callable[[str], int],
        position: Callable[[int], Position],
        partitions: Callable[[], int],
        limit: DeliveryLimit,
        on_delivered: DeliveredHook | None = None,
        awaited: Callable[[Envelope], bool] | None = None,
    ) -> None:
        """``awaited`` tells a reply to a request this gateway holds (its timeout owed if the
        reply cannot be sent)."""
        self._awaited = awaited
        self._codec = codec
        self._limit = limit
        self._hub = hub
        self._metrics = metrics
        self._telemetry = telemetry
        self._system_topic = system_topic
        self.partition_of = partition_of
        self.position = position
        self._partitions = partitions
        self._on_delivered = on_delivered
        self._misrouted_campaigns: set[tuple[bool, str]] = set()  # (mislabelled, campaign)

    def deliver(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        began = time.time_ns() if self._telemetry.enabled else None
        try:
            envelope = self._codec.decode(record.value)
        except CodecError as exc:
            self._metrics.undecodable.inc()
            self._skip_undecodable(tp, record, exc)
            return
        system = tp.topic == self._system_topic
        refusal = misplaced(self._codec.registry, envelope, system=system)
        if refusal is not None:
            self._metrics.misrouted.inc()
            log.warning(
                "skipping record %s-%s@%s (%s): " + refusal.why,
                tp.topic,
                tp.partition,
                record.offset,
                written_by(record),
                *refusal.args,
                extra=repeat_key(record, refusal.why),
            )
            return
        if system:
            self._broadcast(envelope, record, began)
            return
        meta = envelope.metadata
        if self.partition_of(meta.campaign_id) != tp.partition:
            # Never delivered: its campaign's clients read another partition, and positions
            # would not hold. Said, since only a producer or a topic change puts it here.
            self._misrouted(tp, record, meta.campaign_id)
            return
        labelled = header(record.headers, CAMPAIGN_HEADER)
        if labelled is not None and labelled != meta.campaign_id:
            # A resume's replay skips records by this header without decoding them: one its
            # producer labelled with another campaign would reach live clients and never a
            # resumed one (a gap). Neither gets it, and the producer is told why.
            self._misrouted(tp, record, meta.campaign_id, header_campaign=labelled)
            return
        targets = self._hub.targets(
            campaign_id=meta.campaign_id, user_id=meta.user_id, connection_id=meta.connection_id
        )
        if not targets:
            # Nobody here to write to, but a reply still answers its requester's wait (the
            # requester may be away and resume later, possibly here) unless no client could
            # take it: then its request times out, here as on the resume's replay.
            if self._on_delivered is not None and not self._awaited_too_large(tp, envelope, record):
                self._on_delivered(envelope, targets)
            return
        with self._process_span(record, envelope, began):
            frame = self._frame(envelope, tp.partition)
            # Not on_delivered either, if too large: a reply skipped so leaves its request
            # to time out, which answers the requester.
            if self._limit.admits(envelope, frame, record):
                self._fan_out(envelope, frame, targets, record.timestamp / 1000)

    def _frame(self, envelope: Envelope, partition: int) -> bytes:
        payload = self._codec.payload_to_json(envelope.type, envelope.payload)
        return event_frame(envelope, payload, self.position(partition).encode())

    def _awaited_too_large(
        self, tp: TopicPartition, envelope: Envelope, record: ConsumerRecord[bytes, bytes]
    ) -> bool:
        """A reply to a request this gateway holds, too large to send: encoded only then
        (every pod reading the partition sees the record; only the requester's is concerned,
        and counts it)."""
        if self._awaited is None or not self._awaited(envelope):
            return False
        return not self._limit.admits(envelope, self._frame(envelope, tp.partition), record)

    def _misrouted(
        self,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        campaign_id: str,
        *,
        header_campaign: str | None = None,
    ) -> None:
        self._metrics.misrouted.inc()
        # Per fault and campaign: a campaign misplaced once and mislabelled later is said
        # twice, one line for each producer mistake.
        said = (header_campaign is not None, campaign_id[:128])  # a producer's, any length
        if len(self._misrouted_campaigns) >= MISROUTED_LOGGED or said in self._misrouted_campaigns:
            return
        self._misrouted_campaigns.add(said)
        if header_campaign is not None:
            misrouted_log.warning(
                "skipping record %s-%s@%s (%s): its %s header names campaign %r, its envelope "
                "%r; its producer must write the envelope's campaign there (said once per "
                "campaign)",
                tp.topic,
                tp.partition,
                record.offset,
                written_by(record),
                CAMPAIGN_HEADER,
                header_campaign[:128],
                campaign_id,
            )
            return
        misrouted_log.warning(
            "skipping record %s-%s@%s (%s): campaign %r belongs to partition %d of %d (the "
            "key's murmur2 hash, as Kafka's default partitioner places it); its producer "
            "partitions otherwise, or the topic's partition count changed (said once per "
            "campaign)",
            tp.topic,
            tp.partition,
            record.offset,
            written_by(record),
            campaign_id,
            self.partition_of(campaign_id),
            self._partitions(),
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
            refused = False
            for partition, targets in by_partition.items():
                # The frame differs per clients partition only by its position (a few bytes).
                frame = event_frame(envelope, payload, self.position(partition).encode())
                if self._limit.admits(envelope, frame, record, say=not refused):
                    self._fan_out(envelope, frame, targets, record.timestamp / 1000)
                else:
                    refused = True

    def _process_span(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, began: int | None
    ) -> AbstractContextManager[Span]:
        if began is None:
            return nullcontext(INVALID_SPAN)
        # Decoding, before the targets were known, is part of the span.
        return record_span(self._telemetry.tracer, record, envelope, start_time=began)

    def _skip_undecodable(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], error: Exception
    ) -> None:
        # Logged inside the record's span, so the line carries its trace and span ids and a
        # trace UI links the two.
        with (
            record_span(self._telemetry.tracer, record, None)
            if self._telemetry.enabled
            else nullcontext(INVALID_SPAN)
        ) as span:
            record_error(span, error)
            log.warning(
                "skipping undecodable record %s-%s@%s (%s): %s",
                tp.topic,
                tp.partition,
                record.offset,
                written_by(record),
                error,
                extra=repeat_key(record, type(error).__name__),
            )

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
