"""``nexus service search`` as a process: ready line, a real round trip, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

from aiokafka import ConsumerRecord

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually


async def test_search_service_process(settings: NexusSettings, tmp_path: Path) -> None:
    await ensure_topics(settings, ["search"])
    topics = TopicNames(prefix=settings.topic_prefix)
    codec = Codec(load_registry(settings.schemas_dir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(
        NEXUS_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        NEXUS_TOPIC_PREFIX=settings.topic_prefix,
        # Loopback and a free port: tests never listen beyond 127.0.0.1 or collide.
        NEXUS_SERVICE_METRICS_HOST="127.0.0.1",
        NEXUS_SERVICE_METRICS_PORT=str(free_port()),
        OTEL_SDK_DISABLED="true",
    )
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

        event_id = uuid.uuid4().hex
        request = Envelope(
            type="search.requested",
            payload=codec.payload_from_json("search.requested", {"query": "password"}),
            metadata=Metadata(
                event_id=event_id,
                campaign_id="camp-1",
                source="test",
                time=1_700_000_000_000,
                connection_id="conn-1",
            ),
        )
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
