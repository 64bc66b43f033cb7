"""A write Kafka refuses for good is told apart from an outage.

An outage (``KafkaUnavailableError``) is worth retrying; a record over the topic's
``max.message.bytes`` gets the same refusal every time (``ProduceRejectedError``), so a
service dead-letters its request at once instead of retrying it, and the gateway answers
its client without a traceback in the log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nexus_mesh.codec import Codec
from nexus_mesh.errors import KafkaUnavailableError, ProduceRejectedError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.registry import load_registry
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
