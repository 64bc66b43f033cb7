"""A write Kafka refuses for good is told apart from an outage.

An outage (``KafkaUnavailableError``) is worth retrying; a record over the topic's
``max.message.bytes`` gets the same refusal every time (``ProduceRejectedError``), so a
service dead-letters its request at once instead of retrying it, and the gateway answers
its client without a traceback in the log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from kafka_tail import read_back
from mesh_processes import Mesh
from nexus_mesh.client import MeshClient, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.errors import KafkaUnavailableError, ProduceRejectedError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.service.dlq import DeadLetters, FailedRecord
from nexus_mesh.settings import NexusSettings


@pytest.fixture
async def small_topic(settings: NexusSettings) -> AsyncIterator[str]:
    """A topic that takes records of at most 1 KiB."""
    name = f"{settings.topic_prefix}.small-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name=name,
                    num_partitions=1,
                    replication_factor=1,
                    topic_configs={"max.message.bytes": "1024"},
                )
            ]
        )
        yield name
    finally:
        await admin.close()


async def test_a_record_over_the_topic_limit_is_refused_not_unavailable(
    settings: NexusSettings, small_topic: str
) -> None:
    producer = EnvelopeProducer(
        settings=settings, codec=Codec(load_registry(settings.schemas_dir)), client_id="test"
    )
    await producer.start()
    try:
        small = await producer.send_raw(topic=small_topic, key=b"c", value=b"x" * 100, headers=[])
        with pytest.raises(ProduceRejectedError, match="MessageSizeTooLarge") as refused:
            await producer.send_raw(topic=small_topic, key=b"c", value=b"x" * 4096, headers=[])
    finally:
        await producer.stop()
    assert small.topic == small_topic
    assert not isinstance(refused.value, KafkaUnavailableError)
    assert refused.value.retriable is False
    assert small_topic in str(refused.value)


async def test_the_gateway_answers_a_refused_write_as_final(
    settings: NexusSettings, tmp_path: Path
) -> None:
    """A client event Kafka refuses for good (over the clients topic's max.message.bytes,
    which an operator lowered below the gateway's frame limit) is answered ``too_large``,
    not retryable, so a client following the flag does not resend it for ever; the same
    connection goes on."""
    await ensure_topics(settings, [])
    clients = TopicNames(prefix=settings.topic_prefix).clients
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, clients, {"max.message.bytes": "1024"})]
        )
    finally:
        await admin.close()
    mesh = Mesh(
        bootstrap=settings.kafka_bootstrap_servers, prefix=settings.topic_prefix, workdir=tmp_path
    )
    try:
        gateway = mesh.gateway()
        assert gateway.url is not None
        async with MeshClient.connect(
            gateway.url, campaign_id="c1", user_id="u1", token=mesh.token("u1", ["c1"])
        ) as client:
            with pytest.raises(MeshError) as refused:
                await client.emit("chat.message", {"text": "x" * 2000})
            ack = await client.emit("chat.message", {"text": "short"})
        log = gateway.log()
    finally:
        mesh.close()
    assert refused.value.code == "too_large"
    assert refused.value.retryable is False
    assert "resending will not help" in refused.value.message
    assert ack.topic == clients
    assert "MessageSizeTooLarge" in log and "Traceback" not in log


async def test_a_dead_letter_too_large_for_the_dlq_keeps_its_headers(
    settings: NexusSettings, small_topic: str
) -> None:
    """A service must not insist for ever on a dead letter Kafka will never take: written
    without its value, it still says where the original record is, and why."""
    producer = EnvelopeProducer(
        settings=settings, codec=Codec(load_registry(settings.schemas_dir)), client_id="test"
    )
    await producer.start()
    try:
        written = await DeadLetters(producer=producer, topic=small_topic, service="s").write(
            FailedRecord(
                topic="nexus.search",
                partition=1,
                offset=42,
                key=b"c",
                value=b"x" * 4096,
                headers=[("ce_id", b"e-1")],
            ),
            RuntimeError("the handler failed"),
        )
        letter = await read_back(settings, written)
    finally:
        await producer.stop()
    assert letter.value == b""
    assert header(letter.headers, "nexus-original-offset") == "42"
    assert header(letter.headers, "nexus-error") == "the handler failed"
    assert header(letter.headers, "ce_id") == "e-1"
    assert "MessageSizeTooLarge" in str(header(letter.headers, "nexus-value-dropped"))
