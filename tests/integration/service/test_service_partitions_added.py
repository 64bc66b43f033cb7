"""Partitions added to a domain topic while its service runs (``kafka-topics.sh --alter``):
the service's consumer group must take them on within its metadata age, or the requests of
every campaign hashed to them wait, unseen by the lag metric, until it refreshes."""

from __future__ import annotations

import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import METADATA_MAX_AGE_MS, TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.service import app as service_app
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import gateway_producer, running, search_request

FAST = ServiceConfig(poll_timeout_ms=100, stop_timeout_s=5.0)
# Stands in for the mesh's one minute, so that the test takes seconds: what is tested is that
# the service's consumer refreshes its metadata as configured, and rebalances on what it finds.
TEST_METADATA_MAX_AGE_MS = 2_000
# Well below the Kafka clients' default metadata age (5 minutes), which the consumer had.
DEADLINE_S = 60.0


def echo_service(handled: list[str]) -> Service:
    service = Service(name="echo", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.metadata.event_id)
        await ctx.reply("search.completed", {"query": event.payload["query"], "hits": []})

    return service


async def describe_partitions(settings: NexusSettings, topic: str) -> int:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(described["partitions"])


async def add_partitions(settings: NexusSettings, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()


async def test_a_running_service_takes_on_partitions_added_to_its_domain_topic(
    settings: NexusSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_app, "METADATA_MAX_AGE_MS", TEST_METADATA_MAX_AGE_MS, raising=False)
    settings = settings.model_copy(update={"domain_partitions": 2})
    await ensure_topics(settings, ["search"])
    domain = TopicNames(prefix=settings.topic_prefix).domain("search")
    codec = Codec(load_registry(settings.schemas_dir))
    handled: list[str] = []
    service = echo_service(handled)

    def assigned() -> float | None:
        return service.metrics.registry.get_sample_value(
            "nexus_service_assigned_partitions", {"service": "echo"}
        )

    def lag_partitions() -> set[int]:
        return {
            int(sample.labels["partition"])
            for family in service.metrics.lag.collect()
            for sample in family.samples
        }

    async with running(service, settings), gateway_producer(settings, codec) as producer:
        assert assigned() == 2
        await add_partitions(settings, domain, 4)

        async def grown() -> bool:
            return await describe_partitions(settings, domain) == 4

        await eventually(grown, what=f"{domain} described with 4 partitions")
        grew_at = time.monotonic()
        # The gateway side follows at once here: what is under test is the service's side.
        await producer.refresh_metadata()
        campaign = next(
            c for c in (f"camp-{n}" for n in range(1000)) if campaign_partition(c, 4) >= 2
        )
        request = search_request(codec, "jazz", campaign_id=campaign)
        written = await producer.send(request, topic=domain)
        assert written.partition == campaign_partition(campaign, 4) >= 2

        async def handled_request() -> bool:
            return request.metadata.event_id in handled

        await eventually(
            handled_request,
            timeout=DEADLINE_S,
            what=f"the request on new partition {written.partition} handled",
        )
        assert time.monotonic() - grew_at < DEADLINE_S

        async def all_assigned() -> bool:
            return assigned() == 4 and lag_partitions() == {0, 1, 2, 3}

        # What operators watch sees the new partitions too (the lag alert can fire on them).
        await eventually(all_assigned, what="4 partitions assigned and in the lag metric")


async def test_the_service_consumer_refreshes_metadata_as_often_as_the_producers(
    settings: NexusSettings,
) -> None:
    """One metadata age for the mesh's writers and the service's reader: a group that noticed
    new partitions later than the writers would leave the requests written there waiting."""
    await ensure_topics(settings, ["search"])
    codec = Codec(load_registry(settings.schemas_dir))
    service = echo_service([])
    async with running(service, settings):
        consumer = service._consumer
        assert consumer is not None
        reader_age = consumer._client._metadata_max_age_ms
    async with gateway_producer(settings, codec) as writer:
        writer_age = writer._producer.client._metadata_max_age_ms
    assert reader_age == writer_age == METADATA_MAX_AGE_MS <= 60_000
