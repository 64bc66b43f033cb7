"""Producing never creates a topic, even on a broker that would (DESIGN.md section 4).

Stock Kafka ships with ``auto.create.topics.enable=true``: a producer asking for an unknown
topic's metadata makes the broker create it, with the broker's partition count and
retention, which ``nexus topics ensure`` then refuses to change. The session's broker turns
that off, so this module starts a second one configured as Kafka ships.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from mesh_processes import Mesh
from nexus_mesh.client import MeshClient, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import TopicMissingError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, run_nexus_on

SEND_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's broker, configured like a stock one: it creates any topic asked for.
    The suite's ``settings`` fixture points at it in place of the session's broker."""
    cluster = LocalKafka(
        tmp_path_factory.mktemp("kafka-auto-create"),
        broker_properties={"auto.create.topics.enable": "true"},
        die_with_parent=True,  # a killed test session leaves no broker behind
    )
    bootstrap = cluster.start(nodes=1, port=0)
    try:
        # Without the trap these tests would prove nothing: a plain producer must fall in.
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        asyncio.run(_plain_produce(bootstrap, probe))
        assert probe in asyncio.run(_topics(bootstrap)), "this broker should auto-create"
        yield bootstrap
    finally:
        cluster.stop()


@pytest.fixture
async def producer(settings: NexusSettings) -> AsyncIterator[EnvelopeProducer]:
    codec = Codec(load_registry(settings.schemas_dir))
    producer = EnvelopeProducer(
        settings=settings, codec=codec, client_id="test", send_timeout_s=SEND_TIMEOUT_S
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_write_to_a_missing_topic_fails_at_once_and_creates_nothing(
    settings: NexusSettings, producer: EnvelopeProducer
) -> None:
    topics = TopicNames(prefix=settings.topic_prefix)
    message = chat_message(settings)

    began = time.monotonic()
    with pytest.raises(TopicMissingError) as missing:
        await producer.send(message, topic=topics.clients)
    # Not after the send timeout, spent waiting for metadata that never comes.
    assert time.monotonic() - began < SEND_TIMEOUT_S / 2
    assert not missing.value.retriable
    assert str(missing.value) == (
        f"topic {topics.clients} does not exist: run `nexus topics ensure` first"
    )
    # A dead letter (prepared bytes, the other way to write) is refused alike.
    with pytest.raises(TopicMissingError, match=topics.dlq):
        await producer.send_raw(topic=topics.dlq, key=b"c1", value=b"x", headers=[])
    assert not {topics.clients, topics.dlq} & await _topics(settings.kafka_bootstrap_servers)

    # So `nexus topics ensure` creates them as configured, and the same producer then writes.
    report = await ensure_topics(settings, [])
    assert topics.clients in report.created
    assert await _partition_count(settings, topics.clients) == settings.clients_partitions

    async def written() -> Written | None:
        try:
            return await producer.send(message, topic=topics.clients)
        except TopicMissingError:
            return None  # this process may not have looked at the cluster again yet

    assert (await eventually(written, what="a write to the new topic")).topic == topics.clients


async def test_nexus_publish_before_topics_ensure_leaves_the_topics_to_it(
    settings: NexusSettings,
) -> None:
    topics = TopicNames(prefix=settings.topic_prefix)
    publish = ("publish", "chat.message", "--campaign", "c1", "--payload", '{"text": "hi"}')

    refused = await run_nexus_on(settings, *publish)
    assert refused.status != 0
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert f"topic {topics.clients} does not exist: run `nexus topics ensure` first" in line
    event_id = line.rsplit("--event-id ", 1)[1].rstrip(")")

    ensured = await run_nexus_on(settings, "topics", "ensure")
    assert ensured.status == 0, ensured.stderr
    assert await _partition_count(settings, topics.clients) == settings.clients_partitions

    retried = await run_nexus_on(settings, *publish, "--event-id", event_id)
    assert retried.status == 0, retried.stderr
    assert retried.stdout.split()[0] == topics.clients
    assert retried.stdout.split()[3] == event_id


async def test_the_gateway_refuses_an_event_whose_topic_is_missing(
    settings: NexusSettings, tmp_path: Path
) -> None:
    topics = TopicNames(prefix=settings.topic_prefix)
    # The gateway's own topics, but not the search domain's.
    await ensure_topics(settings, [])
    mesh = Mesh(
        bootstrap=settings.kafka_bootstrap_servers, prefix=settings.topic_prefix, workdir=tmp_path
    )
    try:
        gateway = mesh.gateway()
        assert gateway.url is not None
        async with await MeshClient.connect(
            gateway.url, campaign_id="c1", user_id="u1", token=mesh.token("u1", ["c1"])
        ) as client:
            event_id = uuid.uuid4().hex
            with pytest.raises(MeshError) as refused:
                await client.emit(
                    "search.requested",
                    {"query": "jazz"},
                    event_id=event_id,
                    timeout=SEND_TIMEOUT_S / 2,
                )
            # Served by the same connection afterwards: the refusal cost it nothing.
            ack = await client.emit("chat.message", {"text": "still here"})
        log = gateway.log()
    finally:
        mesh.close()
    # The operator's line names the event and carries the trace the client was told of.
    (line,) = [
        orjson.loads(text)
        for text in log.splitlines()
        if text.startswith("{") and f"client event {event_id} refused" in text
    ]
    assert "nexus topics ensure" in line["message"]
    assert refused.value.traceparent is not None
    assert line["trace_id"] == refused.value.traceparent.split("-")[1]
    assert line["span_id"] == refused.value.traceparent.split("-")[2]
    assert refused.value.code == "unavailable"
    assert "its topic is missing" in refused.value.message
    assert refused.value.event_id == event_id
    assert ack.topic == topics.clients
    assert topics.domain("search") not in await _topics(settings.kafka_bootstrap_servers)


def chat_message(settings: NexusSettings) -> Envelope:
    codec = Codec(load_registry(settings.schemas_dir))
    return Envelope(
        type="chat.message",
        payload=codec.payload_from_json("chat.message", {"text": "hi"}),
        metadata=Metadata(
            event_id=uuid.uuid4().hex, campaign_id="c1", source="test", time=1_700_000_000_000
        ),
    )


async def _plain_produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _partition_count(settings: NexusSettings, topic: str) -> int:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()
