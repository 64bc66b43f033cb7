"""``ensure_topics`` against existing topics whose partitions or replication differ from the
configuration: partitions an operator added to a domain topic or the DLQ are kept (with a
warning), the client-facing topics keep their exact count, and a replication factor below the
configured one is said."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from nexus_mesh.errors import TopicConfigError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually

DOMAINS = ["search", "greeter"]


@pytest.fixture
async def admin(settings: NexusSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**client_kwargs(settings))
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def grow(admin: AIOKafkaAdminClient, topic: str, total: int) -> None:
    """``kafka-topics.sh --alter --partitions``, then wait until the broker says so."""
    await admin.create_partitions({topic: NewPartitions(total_count=total)})

    async def grown() -> bool:
        (described,) = await admin.describe_topics([topic])
        return len(described["partitions"]) == total

    await eventually(grown, what=f"{topic} with {total} partitions")


async def test_domain_and_dlq_topics_grown_by_an_operator_are_kept_with_a_warning(
    settings: NexusSettings, admin: AIOKafkaAdminClient
) -> None:
    names = TopicNames(prefix=settings.topic_prefix)
    await ensure_topics(settings, DOMAINS)
    assert (settings.domain_partitions, settings.dlq_partitions) == (2, 1)
    await grow(admin, names.domain("search"), 4)
    await grow(admin, names.dlq, 3)

    report = await ensure_topics(settings, DOMAINS)

    assert report.created == ()
    assert report.warnings == (
        f"{names.dlq} has 3 partitions, configuration says 1 "
        "(left as it is: partitions are never removed)",
        f"{names.domain('search')} has 4 partitions, configuration says 2 "
        "(left as it is: partitions are never removed)",
    )
    # Configured as the grown topic now is, the other domain topic has fewer than configured:
    # that one is refused (ensure never adds partitions), whichever setting an upgrade uses.
    larger = settings.model_copy(update={"domain_partitions": 4})
    with pytest.raises(TopicConfigError) as refused:
        await ensure_topics(larger, DOMAINS)
    assert str(refused.value).endswith(
        f": {names.domain('greeter')} has 2 partitions, configuration says 4"
    )


async def test_client_facing_topics_keep_their_exact_partition_count(
    settings: NexusSettings, admin: AIOKafkaAdminClient
) -> None:
    """Client positions name partitions of ``clients`` and ``system``: more of them than
    configured is still refused (growing ``clients`` has its own documented procedure)."""
    names = TopicNames(prefix=settings.topic_prefix)
    await ensure_topics(settings, DOMAINS)
    await grow(admin, names.clients, 6)
    await grow(admin, names.system, 2)

    with pytest.raises(TopicConfigError) as refused:
        await ensure_topics(settings, DOMAINS)

    message = str(refused.value)
    assert f"{names.clients} has 6 partitions, configuration says 4" in message
    assert f"{names.system} has 2 partitions, configuration says 1" in message


async def test_a_replication_factor_below_the_configuration_is_a_warning(
    settings: NexusSettings,
) -> None:
    """The test broker is one node: every topic has one replica, and a configuration asking
    for 3 finds them (it could not create them)."""
    names = TopicNames(prefix=settings.topic_prefix)
    await ensure_topics(settings, ["search"])
    replicated = settings.model_copy(update={"topic_replication_factor": 3})

    report = await ensure_topics(replicated, ["search"])

    assert report.created == ()
    assert report.warnings == tuple(
        f"{name}: replication factor is 1, configuration says 3 (left unchanged)"
        for name in (names.clients, names.system, names.dlq, names.domain("search"))
    )
    # As configured: nothing to say.
    assert (await ensure_topics(settings, ["search"])).warnings == ()
