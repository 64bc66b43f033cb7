"""The consumer span of one Kafka record, for any consumer of envelopes (services, gateway).

Identity comes from the decoded envelope when there is one, else from the record's headers
(DESIGN.md section 4 mirrors them there for exactly this: an undecodable record still shows
up in its trace, under the span that produced it).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Span

from nexus_mesh.envelope import Envelope
from nexus_mesh.kafka.records import header
from nexus_mesh.tracing.propagation import context_from_headers, context_from_metadata
from nexus_mesh.tracing.spans import process_span


class KafkaRecord(Protocol):
    """What is read of an aiokafka ``ConsumerRecord``."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def headers(self) -> Iterable[tuple[str, bytes]]: ...


def record_span(
    tracer: trace.Tracer,
    record: KafkaRecord,
    envelope: Envelope | None,
    *,
    consumer_group: str | None = None,
    start_time: int | None = None,
) -> AbstractContextManager[Span]:
    """``process <topic>`` for ``record``, the child of the span that produced it."""
    headers = record.headers
    parent = context_from_headers(headers)
    if parent is None and envelope is not None:
        parent = context_from_metadata(envelope.metadata)
    meta = envelope.metadata if envelope is not None else None
    return process_span(
        tracer,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode(errors="replace") if record.key is not None else None,
        event_type=envelope.type if envelope is not None else header(headers, "ce_type"),
        event_id=meta.event_id if meta is not None else header(headers, "ce_id"),
        campaign_id=meta.campaign_id if meta is not None else header(headers, "nexus-campaign"),
        consumer_group=consumer_group,
        parent=parent,
        start_time=start_time,
    )
