"""For tests of services: the search request a gateway would write (one, or written for
you by :class:`SearchRequests`), a service running in the test's process, and the
environment of one run as its own process."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from clients_topic import raw_producer, write
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Service
from nexus_mesh.settings import NexusSettings


def search_request(
    codec: Codec,
    payload: dict[str, Any] | str,
    *,
    event_id: str | None = None,
    campaign_id: str = "camp-1",
    connection_id: str = "conn-1",
    **metadata: Any,
) -> Envelope:
    """``search.requested`` as the gateway stamps it; ``payload`` a query or the whole payload."""
    body = {"query": payload} if isinstance(payload, str) else payload
    return Envelope(
        type="search.requested",
        payload=codec.payload_from_json("search.requested", body),
        metadata=Metadata(
            event_id=event_id or uuid.uuid4().hex,
            campaign_id=campaign_id,
            source="test-gateway",
            time=1_700_000_000_000,
            connection_id=connection_id,
            **metadata,
        ),
    )


def service_env(settings: NexusSettings, **extra: str) -> dict[str, str]:
    """A service process's environment: this test's broker and prefix, its metrics on a free
    loopback port, none of the runner's own NEXUS_*/OTEL_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "OTEL_"))}
    env.update(
        NEXUS_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        NEXUS_TOPIC_PREFIX=settings.topic_prefix,
        # Loopback and a free port: tests never listen beyond 127.0.0.1 or collide.
        NEXUS_SERVICE_METRICS_HOST="127.0.0.1",
        NEXUS_SERVICE_METRICS_PORT=str(free_port()),
        **extra,
    )
    return env


@asynccontextmanager
async def running(service: Service, settings: NexusSettings) -> AsyncIterator[Service]:
    """``service`` started in this process and ready (its group joined), stopped after."""
    await service.start(settings)
    try:
        await asyncio.wait_for(service.ready.wait(), 30)
        yield service
    finally:
        await service.stop()


@asynccontextmanager
async def gateway_producer(
    settings: NexusSettings, codec: Codec
) -> AsyncIterator[EnvelopeProducer]:
    """A started producer writing as the gateway does, stopped at the end."""
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="test-gateway")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def committed_offsets(settings: NexusSettings, group_id: str) -> dict[TopicPartition, int]:
    """What consumer group ``group_id`` has committed, as the broker says now."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


class SearchRequests:
    """Plays the gateway: writes ``search.requested`` events to the domain topic."""

    def __init__(self, settings: NexusSettings, producer: EnvelopeProducer, codec: Codec) -> None:
        self.settings = settings
        self.topics = TopicNames(prefix=settings.topic_prefix)
        self._producer = producer
        self._codec = codec

    async def send(self, query: str, *, campaign_id: str = "camp-1") -> Written:
        envelope = search_request(self._codec, query, campaign_id=campaign_id)
        return await self._producer.send(envelope, topic=self.topics.domain("search"))

    async def send_dated(self, query: str, *, timestamp_ms: int) -> None:
        """A request whose Kafka record says it was written at ``timestamp_ms`` (a request
        that waited in Kafka while no service ran)."""
        envelope = search_request(self._codec, query)
        partition = campaign_partition(
            envelope.metadata.campaign_id, self.settings.domain_partitions
        )
        async with raw_producer(self.settings) as producer:
            await write(
                producer,
                self.topics.domain("search"),
                partition,
                envelope,
                self._codec,
                timestamp_ms=timestamp_ms,
            )

    def campaigns_on(self, partition: int, count: int = 1) -> list[str]:
        """``count`` campaign ids whose events land on ``partition`` of the domain topic."""
        found = [
            campaign
            for campaign in (f"camp-{i}" for i in range(1000))
            if campaign_partition(campaign, self.settings.domain_partitions) == partition
        ]
        assert len(found) >= count
        return found[:count]


@asynccontextmanager
async def search_requests(settings: NexusSettings) -> AsyncIterator[SearchRequests]:
    """The search domain topic made, and a :class:`SearchRequests` writing to it."""
    await ensure_topics(settings, ["search"])
    codec = Codec(load_registry(settings.schemas_dir))
    async with gateway_producer(settings, codec) as producer:
        yield SearchRequests(settings, producer, codec)
