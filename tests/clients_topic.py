"""Records written straight to ``<prefix>.clients``, as a backend (or a stray producer) would,
for tests of what a gateway does with what it reads there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.records import record_headers
from nexus_mesh.settings import NexusSettings


def campaign_update(
    codec: Codec,
    status: str,
    *,
    campaign_id: str = "acme",
    source: str = "backend",
    time: int = 1,
    traceparent: str | None = None,
) -> Envelope:
    """A ``campaign.updated`` for every connection of ``campaign_id``; ``status`` tells it."""
    return Envelope(
        type="campaign.updated",
        payload=codec.payload_from_json("campaign.updated", {"status": status, "updated_at": time}),
        metadata=Metadata(
            event_id=uuid.uuid4().hex,
            campaign_id=campaign_id,
            source=source,
            time=time,
            traceparent=traceparent,
        ),
    )


async def write(
    producer: AIOKafkaProducer,
    topic: str,
    partition: int,
    envelope: Envelope,
    codec: Codec,
    *,
    value: bytes | None = None,
    headers: dict[str, bytes] | None = None,
    timestamp_ms: int | None = None,
) -> RecordMetadata:
    """``envelope`` keyed and headed as the mesh writes it, on ``partition``; ``value``
    replaces its encoding (an unreadable record with a real event's headers), ``headers``
    some of its headers (a producer labelling it wrong), ``timestamp_ms`` the record's time
    (one written long ago)."""
    written: RecordMetadata = await producer.send_and_wait(
        topic,
        codec.encode(envelope) if value is None else value,
        key=envelope.metadata.campaign_id.encode(),
        headers=[
            (name, (headers or {}).get(name, content)) for name, content in record_headers(envelope)
        ],
        partition=partition,
        timestamp_ms=timestamp_ms,
    )
    return written


@asynccontextmanager
async def raw_producer(settings: NexusSettings) -> AsyncIterator[AIOKafkaProducer]:
    """A plain aiokafka producer (acks=all), as a backend of its own writes with; stopped
    after the block."""
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
