"""A service written the way the README shows (``Service(...)``, ``run_forever()``) logs the
way the settings say, as ``nexus service`` does: JSON lines with its name and trace ids."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import search_request, service_env

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
SECRET = "hunter2-not-for-logs"

SERVICE = """
from nexus_mesh.envelope import Envelope
from nexus_mesh.service import Context, Service

service = Service(name="greeter", domain="search")


@service.handler("search.requested")
async def greet(event: Envelope, ctx: Context) -> None:
    ctx.log.warning("greeting %s with password=%s", event.metadata.user_id, "{secret}")
    await ctx.reply("search.completed", {{"query": event.payload["query"], "hits": []}})

"""


async def run_service(
    settings: NexusSettings, tmp_path: Path, script: str, **env_extra: str
) -> list[str]:
    """Run ``script`` as its own process, have it answer one request, SIGTERM it; returns
    its stderr lines."""
    await ensure_topics(settings, ["search"])
    topics = TopicNames(prefix=settings.topic_prefix)
    codec = Codec(load_registry(settings.schemas_dir))
    path = tmp_path / "greeter.py"
    path.write_text(SERVICE.format(secret=SECRET) + script)
    # Spans are made (log lines inside one carry its ids) but sent nowhere.
    env = service_env(settings, OTEL_TRACES_EXPORTER="none", **env_extra)
    log_path = tmp_path / "greeter.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(path), env=env, stdout=log, stderr=log
        )
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="test-gateway")
    try:
        await producer.start()
        async with TopicTail(settings, topics.clients, settings.clients_partitions) as clients:
            request = search_request(codec, "hello", user_id="alice", traceparent=TRACEPARENT)
            event_id = request.metadata.event_id
            # Written before the service is ready: it starts from the beginning of the topic.
            await producer.send(request, topic=topics.domain("search"))

            async def reply() -> list[Any]:
                assert process.returncode is None, log_path.read_text()
                return clients.with_header("nexus-correlation", event_id)

            await eventually(reply, timeout=60, what="the reply")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log_path.read_text()
    finally:
        await producer.stop()
        if process.returncode is None:
            process.kill()
            await process.wait()
    return [line for line in log_path.read_text().splitlines() if line.strip()]


async def test_run_forever_logs_json_lines_as_the_settings_say(
    settings: NexusSettings, tmp_path: Path
) -> None:
    lines = await run_service(settings, tmp_path, "service.run_forever()\n")

    records = [json.loads(line) for line in lines]  # every line, not only ours
    ours = [r for r in records if r["logger"] == "nexus.service.greeter"]
    messages = [r["message"] for r in ours]
    assert any(m.startswith("service greeter started") for m in messages), messages
    assert any(m.startswith("service greeter ready") for m in messages), messages
    assert "service greeter stopped" in messages
    assert {r["service"] for r in records} == {"nexus-greeter"}
    (greeting,) = [r for r in ours if r["message"].startswith("greeting")]
    assert greeting["level"] == "WARNING"
    # Inside the handler's span, a child of the request's trace: the line leads to the trace.
    assert greeting["trace_id"] == TRACE_ID
    assert SECRET not in "\n".join(lines)
    assert greeting["message"] == "greeting alice with password=***"


async def test_the_log_level_setting_is_honoured(settings: NexusSettings, tmp_path: Path) -> None:
    lines = await run_service(
        settings, tmp_path, "service.run_forever()\n", NEXUS_LOG_LEVEL="WARNING"
    )

    records = [json.loads(line) for line in lines]
    assert records
    assert {r["level"] for r in records} <= {"WARNING", "ERROR", "CRITICAL"}
    assert any(r["message"].startswith("greeting alice") for r in records)


async def test_logging_the_application_set_up_is_left_alone(
    settings: NexusSettings, tmp_path: Path
) -> None:
    """As ``nexus service`` does: logging configured before ``run`` stays as it was."""
    script = (
        "from nexus_mesh.logs import configure_logging\n"
        "configure_logging('INFO', fmt='text', service='app-chose-this')\n"
        "service.run_forever()\n"
    )
    lines = await run_service(settings, tmp_path, script, NEXUS_LOG_FORMAT="json")

    ready = [line for line in lines if "service greeter ready" in line]
    assert len(ready) == 1, lines  # once: no second handler was added
    for line in lines:
        assert not line.startswith("{"), line
    (greeting,) = [line for line in lines if "greeting alice" in line]
    assert f"[trace {TRACE_ID}]" in greeting
    assert SECRET not in greeting
