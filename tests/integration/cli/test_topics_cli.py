"""``nexus topics ensure`` as a process against the test broker: it checks existing topics'
retention and min ISR, refuses a client recovery log keeping less than 24 h, and never alters
a topic."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from nexus_mesh.kafka.topics import TopicNames
from nexus_testkit import CliRun, eventually, run_nexus

HOUR_MS = 3_600_000


async def ensure(bootstrap: str, prefix: str) -> CliRun:
    return await run_nexus(
        "topics",
        "ensure",
        env={
            "NEXUS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "NEXUS_TOPIC_PREFIX": prefix,
            # One partition each: the configuration these tests' own topics are created with.
            "NEXUS_CLIENTS_PARTITIONS": "1",
            "NEXUS_DOMAIN_PARTITIONS": "1",
            "NEXUS_DLQ_PARTITIONS": "1",
        },
    )


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def topic_config(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    (response,) = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})]
    )
    (resource,) = response.to_object()["resources"]
    return {e["config_names"]: e["config_value"] for e in resource["config_entries"]}


async def test_clients_topic_keeping_less_than_a_day_is_refused(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    clients = TopicNames(prefix=topic_prefix).clients
    await admin.create_topics(
        [NewTopic(clients, 1, 1, topic_configs={"retention.ms": str(HOUR_MS)})]
    )

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status != 0
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(
        f"nexus: error: {clients} has retention.ms=3600000 (1 h): the client recovery log "
        "must keep at least 24 h"
    )
    assert await topic_config(admin, clients) == {"retention.ms": str(HOUR_MS)}


async def test_clients_topic_kept_forever_is_accepted_with_a_warning(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    clients = TopicNames(prefix=topic_prefix).clients
    await admin.create_topics([NewTopic(clients, 1, 1, topic_configs={"retention.ms": "-1"})])

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status == 0, run.stderr
    assert f"exists  {clients}" in run.stdout.splitlines()
    assert run.stderr.strip().splitlines() == [
        f"nexus: warning: {clients}: retention.ms is -1 (forever), configuration says "
        "604800000 (7 d) (left unchanged)"
    ]


async def test_a_compacted_clients_topic_is_refused(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    """Compaction keeps the last record per key, and the key is the campaign: resumes would
    silently miss events. A broker whose default is compact creates it so too."""
    clients = TopicNames(prefix=topic_prefix).clients
    await admin.create_topics(
        [NewTopic(clients, 1, 1, topic_configs={"cleanup.policy": "compact"})]
    )

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status != 0
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"nexus: error: {clients} has cleanup.policy=compact: compaction")


async def test_a_size_bound_on_the_clients_topic_is_a_warning(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    clients = TopicNames(prefix=topic_prefix).clients
    await admin.create_topics(
        [
            NewTopic(
                clients,
                1,
                1,
                topic_configs={"retention.bytes": "1048576", "retention.ms": "604800000"},
            )
        ]
    )

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status == 0, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"nexus: warning: {clients}: retention.bytes is 1048576: busy partitions may drop "
        "records before retention.ms, and resumes from before then report recovered=false "
        "(left unchanged)"
    ]


async def test_topics_it_creates_say_they_are_not_compacted(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    run = await ensure(kafka_bootstrap, topic_prefix)
    assert run.status == 0, run.stderr
    clients = TopicNames(prefix=topic_prefix).clients
    (response,) = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, clients, {"cleanup.policy": None})]
    )
    (resource,) = response.to_object()["resources"]
    entries = {e["config_names"]: e for e in resource["config_entries"]}
    # Set on the topic itself (DYNAMIC_TOPIC_CONFIG, source 1), not inherited from the broker.
    assert entries["cleanup.policy"]["config_value"] == "delete"
    assert entries["cleanup.policy"]["config_source"] == 1


async def test_drifted_retention_and_min_isr_are_warnings_not_failures(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    first = await ensure(kafka_bootstrap, topic_prefix)
    assert first.status == 0, first.stderr
    system = TopicNames(prefix=topic_prefix).system
    await admin.alter_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC,
                system,
                {"retention.ms": str(HOUR_MS), "min.insync.replicas": "2"},
            )
        ]
    )

    # The next ensure must find the change, whichever broker it asks.
    await eventually(lambda: _has_retention(admin, system, HOUR_MS), what="the altered retention")

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status == 0, run.stderr
    assert "created" not in run.stdout
    # Only the drifted topic is reported: the others match the configuration.
    assert run.stderr.strip().splitlines() == [
        f"nexus: warning: {system}: retention.ms is 3600000 (1 h), configuration says "
        "604800000 (7 d) (left unchanged)",
        f"nexus: warning: {system}: min.insync.replicas is 2, configuration says 1 "
        "(left unchanged)",
    ]
    assert await topic_config(admin, system) == {"retention.ms": str(HOUR_MS)}


async def _has_retention(admin: AIOKafkaAdminClient, topic: str, retention_ms: int) -> bool:
    return (await topic_config(admin, topic)).get("retention.ms") == str(retention_ms)


async def test_a_domain_topic_grown_by_an_operator_does_not_block_upgrades(
    kafka_bootstrap: str, topic_prefix: str, admin: AIOKafkaAdminClient
) -> None:
    """The chart runs ensure as its pre-upgrade hook: partitions added to a domain topic with
    kafka-topics.sh --alter must not fail it."""
    first = await ensure(kafka_bootstrap, topic_prefix)
    assert first.status == 0, first.stderr
    search = TopicNames(prefix=topic_prefix).domain("search")
    await admin.create_partitions({search: NewPartitions(total_count=3)})

    async def grown() -> bool:
        (described,) = await admin.describe_topics([search])
        return len(described["partitions"]) == 3

    await eventually(grown, what=f"{search} with 3 partitions")

    run = await ensure(kafka_bootstrap, topic_prefix)

    assert run.status == 0, run.stderr
    assert f"exists  {search}" in run.stdout.splitlines()
    assert run.stderr.strip().splitlines() == [
        f"nexus: warning: {search} has 3 partitions, configuration says 1 (left as it is: "
        "partitions are never removed)"
    ]
