"""``nexus service search`` as a process: ready line, a real round trip, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import ConsumerRecord

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import search_request, service_env


@asynccontextmanager
async def service_process(
    name: str, service: str, log_path: Path, env: dict[str, str], cwd: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``nexus service NAME`` as its own process, once ``service`` logged its ready line;
    killed at the end if it is still running (a test that stops it checks how)."""
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nexus_mesh.cli",
            "service",
            name,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=log,
        )
    try:

        async def ready() -> bool:
            text = await asyncio.to_thread(log_path.read_text)
            assert process.returncode is None, text
            return f"service {service} ready" in text

        await eventually(ready, timeout=60, what="the ready line")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def reply_to(
    settings: NexusSettings, codec: Codec, request: Envelope
) -> ConsumerRecord[bytes, bytes]:
    """Write ``request`` as the gateway would, and read the reply the service sends."""
    topics = TopicNames(prefix=settings.topic_prefix)
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="test")
    await producer.start()
    try:
        await producer.send(request, topic=topics.domain("search"))
    finally:
        await producer.stop()
    async with TopicTail(settings, topics.clients, settings.clients_partitions) as clients:

        async def reply() -> list[ConsumerRecord[bytes, bytes]]:
            return clients.with_header("nexus-correlation", request.metadata.event_id)

        (record,) = await eventually(reply, what="the reply")
    return record


async def test_search_service_process(settings: NexusSettings, tmp_path: Path) -> None:
    await ensure_topics(settings, ["search"])
    codec = Codec(load_registry(settings.schemas_dir))
    env = service_env(settings, OTEL_SDK_DISABLED="true")
    log_path = tmp_path / "search.log"
    async with service_process("search", "search", log_path, env) as process:
        record = await reply_to(settings, codec, search_request(codec, "password"))
        assert header(record.headers, "ce_type") == "search.completed"
        assert codec.decode(record.value).payload["hits"]

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "service search stopped" in log_path.read_text()


GREETER = """
from nexus_mesh.envelope import Envelope
from nexus_mesh.service import Context, Service
from nexus_mesh.settings import NexusSettings, load_settings


class GreeterSettings(NexusSettings):
    greeter_greeting: str = "hello"


settings = load_settings(GreeterSettings)
service = Service(name="greeter", domain="search")


@service.handler("search.requested")
async def greet(event: Envelope, ctx: Context) -> None:
    text = f"{settings.greeter_greeting} {event.payload['query']}"
    await ctx.reply("search.completed", {"query": text, "hits": []})


if __name__ == "__main__":
    service.run_forever()
"""


async def test_a_service_of_your_own_runs_as_the_mesh_s_do(
    settings: NexusSettings, tmp_path: Path
) -> None:
    """``nexus service module:attribute`` runs an author's Service with the mesh's process
    set-up, and a setting the author declared (NEXUS_GREETER_GREETING) is read, not warned
    about as an unknown variable."""
    await ensure_topics(settings, ["search"])
    (tmp_path / "greeter.py").write_text(GREETER)
    codec = Codec(load_registry(settings.schemas_dir))
    env = service_env(settings, OTEL_SDK_DISABLED="true", NEXUS_GREETER_GREETING="bonjour")
    log_path = tmp_path / "greeter.log"
    async with service_process("greeter:service", "greeter", log_path, env, tmp_path) as process:
        record = await reply_to(settings, codec, search_request(codec, "alice"))
        assert codec.decode(record.value).payload["query"] == "bonjour alice"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "NEXUS_GREETER_GREETING" not in log_path.read_text()


async def test_a_service_that_cannot_start_says_why_in_one_line(
    settings: NexusSettings, tmp_path: Path
) -> None:
    """A wrong NAME, or a service whose topic does not exist yet, ends the process with one
    line naming the cause and status 2, not a traceback, whether started through ``nexus
    service`` or by the author's own ``run_forever()``."""
    (tmp_path / "greeter.py").write_text(GREETER)
    # This test's prefix has no topics: nothing ensured them.
    env = service_env(settings, OTEL_SDK_DISABLED="true", NEXUS_LOG_FORMAT="text")
    commands = {
        "unknown": ([sys.executable, "-m", "nexus_mesh.cli", "service", "nope"], "nexus: "),
        "missing attribute": (
            [sys.executable, "-m", "nexus_mesh.cli", "service", "greeter:absent"],
            "nexus: ",
        ),
        "no topic": ([sys.executable, "greeter.py"], "nexus-greeter: "),
    }
    for what, (command, prefix) in commands.items():
        process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
        text = err.decode()
        assert process.returncode == 2, (what, text)
        assert "Traceback" not in text, (what, text)
        last = text.strip().splitlines()[-1]
        assert last.startswith(prefix), (what, text)
        if what == "no topic":
            assert "nexus topics ensure" in last
        if what == "missing attribute":
            assert "absent" in last
