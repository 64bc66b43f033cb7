"""A write Kafka acknowledges in the very turn its deadline fires is reported as written.

It was answered "not written, retry" before: the client's retry then wrote the event a second
time. The moment cannot be forced with the broker's own timing, so the producer's ``send`` is
the one stand-in here (a real broker answers the topic listing before it): its acknowledgement
lands in the event-loop turn right after the deadline cancelled the wait, deterministically.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata

from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings


async def test_an_acknowledgement_at_the_deadline_is_a_write(settings: NexusSettings) -> None:
    await ensure_topics(settings, [])
    topic = TopicNames(prefix=settings.topic_prefix).clients
    producer = EnvelopeProducer(
        settings=settings,
        codec=Codec(load_registry(settings.schemas_dir)),
        client_id="test",
        send_timeout_s=0.5,
    )
    await producer.start()
    loop = asyncio.get_running_loop()
    writer: asyncio.Task[Written] | None = None
    stored = RecordMetadata(topic, 2, TopicPartition(topic, 2), 42, -1, 0, 0)

    async def send(topic: str, **_: Any) -> asyncio.Future[RecordMetadata]:
        pending: asyncio.Future[RecordMetadata] = loop.create_future()

        def acknowledge_once_cancelled() -> None:
            # The deadline cancels the writer; the acknowledgement follows in the next turn,
            # before the writer runs again.
            if writer is not None and writer.cancelling():
                pending.set_result(stored)
            else:
                loop.call_soon(acknowledge_once_cancelled)

        loop.call_soon(acknowledge_once_cancelled)
        return pending

    producer._producer.send = send  # type: ignore[method-assign]
    try:
        writer = asyncio.create_task(
            producer.send_raw(topic=topic, key=b"acme", value=b"x", headers=[])
        )
        written = await writer
    finally:
        await producer.stop()
    assert written == Written(topic=topic, partition=2, offset=42)
