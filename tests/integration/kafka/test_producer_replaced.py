"""A producer whose record numbering Kafka refuses is replaced, and writes go on.

An idempotent producer numbers its records per partition; the broker takes the next number
only. aiokafka can use a number up without writing (a batch that expires while its partition
has no leader) and never puts it right (aio-libs/aiokafka#1017): the broker then refuses every
later write to that partition, and a gateway answered each of them "not written, resending
will not help" until its pod restarted. Making a partition leaderless for longer than the
request timeout takes a cluster this suite does not run; the test moves the producer's
number for one partition on instead, as that expiry does (a private aiokafka attribute: the
one fault injected), and the real broker refuses the next write.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.errors import KafkaUnavailableError
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually


async def test_a_refused_numbering_replaces_the_producer_and_loses_nothing(
    settings: NexusSettings,
) -> None:
    await ensure_topics(settings, [])
    topic = TopicNames(prefix=settings.topic_prefix).clients
    producer = EnvelopeProducer(
        settings=settings, codec=Codec(load_registry(settings.schemas_dir)), client_id="test"
    )
    await producer.start()
    try:
        first = await producer.send_raw(topic=topic, key=b"acme", value=b"one", headers=[])
        old = producer._producer
        numbering = old._txn_manager  # the injected fault
        numbering.increment_sequence_number(TopicPartition(topic, first.partition), 3)
        # A write still waiting (for metadata or buffer space: held here) on the old producer
        # while it is replaced and stopped: not written, so retriable, not a refusal.
        release = asyncio.Event()
        real_send = old.send

        async def held_send(topic: str, **kwargs: Any) -> Any:
            if kwargs["value"] == b"held":
                await release.wait()
            return await real_send(topic, **kwargs)

        old.send = held_send  # type: ignore[method-assign]
        held = asyncio.create_task(
            producer.send_raw(topic=topic, key=b"other", value=b"held", headers=[])
        )
        refused = None
        try:
            await producer.send_raw(topic=topic, key=b"acme", value=b"two", headers=[])
        except KafkaUnavailableError as exc:
            refused = exc
        # Retriable: it was not written, and a retry goes through the new producer.
        assert refused is not None and refused.retriable
        assert "OutOfOrderSequenceNumber" in str(refused) and "new producer id" in str(refused)

        async def replaced() -> bool:
            return producer.replacements == 1

        await eventually(replaced, what="the producer to be replaced")

        async def old_closed() -> bool:
            return bool(old._closed)  # aiokafka sets it as its stop begins

        await eventually(old_closed, what="the replaced producer to be stopping")
        release.set()
        waited = None
        try:
            await held
        except KafkaUnavailableError as exc:
            waited = exc
        assert waited is not None and waited.retriable, "the held write was not written"
        third = await producer.send_raw(topic=topic, key=b"acme", value=b"three", headers=[])
    finally:
        await producer.stop()
    assert third.partition == first.partition
    async with TopicTail(settings, topic, settings.clients_partitions) as tail:
        await eventually(tail.caught_up, what="the clients topic read to its end")
        values = [r.value for r in tail.records if r.partition == first.partition]
    assert values == [b"one", b"three"]
