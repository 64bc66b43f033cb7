"""Records really travel through the session's Apache Kafka broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from nexus_mesh.errors import TopicConfigError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.settings import NexusSettings


async def test_ensure_topics_is_idempotent_and_reports(settings: NexusSettings) -> None:
    names = TopicNames(prefix=settings.topic_prefix)
    first = await ensure_topics(settings, ["search"])
    assert set(first.created) == {
        names.clients,
        names.system,
        names.dlq,
        names.domain("search"),
    }
    assert first.existing == ()
    second = await ensure_topics(settings, ["search"])
    assert second.created == ()
    assert set(second.existing) == set(first.created)


async def test_partition_mismatch_is_reported_not_fixed(settings: NexusSettings) -> None:
    await ensure_topics(settings, [])
    changed = settings.model_copy(update={"clients_partitions": settings.clients_partitions + 2})
    with pytest.raises(TopicConfigError, match=r"\.clients has 4 partitions, configuration says 6"):
        await ensure_topics(changed, [])
    # Nothing was created or altered by the failed run.
    again = await ensure_topics(settings, [])
    assert again.created == ()


async def test_key_value_and_headers_round_trip(settings: NexusSettings) -> None:
    await ensure_topics(settings, [])
    topic = TopicNames(prefix=settings.topic_prefix).clients
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = []
        for index in range(5):
            meta = await producer.send_and_wait(
                topic,
                value=bytes([0xC3, 0x01, index]) + b"\x00payload",
                key=b"campaign-a",
                headers=[("ce_type", b"chat.message"), ("nexus-seq", str(index).encode())],
            )
            sent.append(meta)
    finally:
        await producer.stop()
    # One key, one partition, consecutive offsets: the ordering promise of DESIGN.md section 4.
    assert len({m.partition for m in sent}) == 1
    assert [m.offset for m in sent] == list(range(sent[0].offset, sent[0].offset + 5))

    partition = TopicPartition(topic, sent[0].partition)
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, sent[0].offset)
        received = []
        while len(received) < 5:
            batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=1000), 15)
            received.extend(batch.get(partition, []))
    finally:
        await consumer.stop()
    assert [r.key for r in received] == [b"campaign-a"] * 5
    assert [r.value for r in received] == [
        bytes([0xC3, 0x01, i]) + b"\x00payload" for i in range(5)
    ]
    assert [dict(r.headers)["nexus-seq"] for r in received] == [b"0", b"1", b"2", b"3", b"4"]
    assert all(dict(r.headers)["ce_type"] == b"chat.message" for r in received)
