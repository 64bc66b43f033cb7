"""``nexus service search`` as a process: ready line, a real round trip, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aiokafka import ConsumerRecord

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import search_request, service_env


async def test_search_service_process(settings: NexusSettings, tmp_path: Path) -> None:
    await ensure_topics(settings, ["search"])
    topics = TopicNames(prefix=settings.topic_prefix)
    codec = Codec(load_registry(settings.schemas_dir))
    env = service_env(settings, OTEL_SDK_DISABLED="true")
    log_path = tmp_path / "search.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nexus_mesh.cli",
            "service",
            "search",
            env=env,
            stdout=log,
            stderr=log,
        )
    try:

        async def ready() -> bool:
            assert process.returncode is None, log_path.read_text()
            return "service search ready" in log_path.read_text()

        await eventually(ready, timeout=60, what="the ready line")

        request = search_request(codec, "password")
        event_id = request.metadata.event_id
        producer = EnvelopeProducer(settings=settings, codec=codec, client_id="test")
        await producer.start()
        try:
            await producer.send(request, topic=topics.domain("search"))
        finally:
            await producer.stop()

        async with TopicTail(settings, topics.clients, settings.clients_partitions) as clients:

            async def reply() -> list[ConsumerRecord[bytes, bytes]]:
                return clients.with_header("nexus-correlation", event_id)

            (record,) = await eventually(reply, what="the search reply")
        assert header(record.headers, "ce_type") == "search.completed"
        assert codec.decode(record.value).payload["hits"]

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "service search stopped" in log_path.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
