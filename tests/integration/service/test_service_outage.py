"""A service through a broker outage, against a broker of the test's own that it stops."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from pathlib import Path

from aiokafka import TopicPartition

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import committed_offsets, running, search_requests

FAST = ServiceConfig(
    poll_timeout_ms=100,
    retry_backoff_s=0.1,
    max_backoff_s=0.5,
    stop_timeout_s=5.0,
    send_timeout_s=3.0,
    handler_timeout_s=None,
)


def own_settings(bootstrap: str, prefix: str) -> NexusSettings:
    """The test's own broker, topics ``prefix.*`` of two partitions each."""
    return NexusSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        domain_partitions=2,
        clients_partitions=2,
    )


async def one_reply(settings: NexusSettings, topic: str) -> None:
    """``topic`` holds the reply, under one event id however many writes it took."""
    codec = Codec(load_registry(settings.schemas_dir))
    async with TopicTail(settings, topic, 2) as clients:

        async def replied() -> list[Envelope]:
            return [codec.decode(r.value) for r in clients.records if r.value is not None]

        replies = await eventually(replied, what="the reply on the clients topic")
    assert {r.type for r in replies} == {"search.completed"}
    assert len({r.metadata.event_id for r in replies}) == 1, "one reply, however many writes"


async def test_a_reply_waits_out_a_broker_outage_and_is_committed_once_kafka_is_back(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """The broker stops while a handler is in hand; its reply cannot be written, and is
    retried (not dead-lettered) until the broker is back. Then the reply reaches the clients
    topic (under one event id, however many attempts it took), and the request is committed:
    the service came through the outage without a restart and without losing the request."""
    cluster, bootstrap = own_kafka
    settings = own_settings(bootstrap, "svcoutage")
    entered, release = asyncio.Event(), asyncio.Event()
    attempts: list[str] = []
    service = Service(name="patient", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        attempts.append(event.metadata.event_id)
        entered.set()
        await release.wait()
        await ctx.reply("search.completed", {"query": event.payload["query"], "hits": []})

    def retries() -> float:
        found = service.metrics.registry.get_sample_value(
            "nexus_service_retries_total", {"service": "patient"}
        )
        return found or 0.0

    async with search_requests(settings) as requests, running(service, settings):
        request = await requests.send("through the outage")

        async def in_hand() -> bool:
            return entered.is_set()

        await eventually(in_hand, what="the request in hand")
        await asyncio.to_thread(cluster.stop)
        release.set()

        async def retrying() -> bool:
            return retries() >= 2

        await eventually(retrying, timeout=60, what="the reply's write retried")
        await asyncio.to_thread(cluster.start, nodes=1, port=0)
        tp = TopicPartition(request.topic, request.partition)

        async def committed() -> bool:
            offsets = await committed_offsets(settings, service.group_id)
            return offsets.get(tp) == request.offset + 1

        await eventually(committed, timeout=90, what="the request committed once Kafka is back")
    await one_reply(settings, "svcoutage.clients")
    assert (
        service.metrics.registry.get_sample_value(
            "nexus_service_dlq_total", {"service": "patient", "reason": "handler"}
        )
        == 0
    )


async def test_a_write_waiting_on_kafka_does_not_count_against_the_handler_timeout(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """``handler_timeout_s`` is 1 s, and the broker stops answering (SIGSTOP) as the handler
    replies: the reply's write waits for Kafka up to ``send_timeout_s`` (2 s), past the
    handler's deadline, and is then retried as an outage, not dead-lettered as a slow
    handler. Once the broker answers again the reply lands, under one event id, and the
    request is committed."""
    cluster, bootstrap = own_kafka
    broker = cluster.status().nodes[0].pid
    assert broker is not None
    settings = own_settings(bootstrap, "svcstall")
    entered, release = asyncio.Event(), asyncio.Event()
    config = replace(FAST, handler_timeout_s=1.0, send_timeout_s=2.0)
    service = Service(name="timed", domain="search", config=config)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        entered.set()
        await release.wait()
        await ctx.reply("search.completed", {"query": event.payload["query"], "hits": []})

    def sample(name: str, **labels: str) -> float:
        found = service.metrics.registry.get_sample_value(name, {"service": "timed", **labels})
        return found or 0.0

    paused = False
    try:
        async with search_requests(settings) as requests, running(service, settings):
            request = await requests.send("past the deadline")

            async def in_hand() -> bool:
                return entered.is_set()

            await eventually(in_hand, what="the request in hand")
            os.kill(broker, signal.SIGSTOP)
            paused = True
            release.set()

            async def retried() -> bool:
                return sample("nexus_service_retries_total") >= 1

            await eventually(retried, timeout=30, what="the reply's write retried as an outage")
            os.kill(broker, signal.SIGCONT)
            paused = False
            tp = TopicPartition(request.topic, request.partition)

            async def committed() -> bool:
                offsets = await committed_offsets(settings, service.group_id)
                return offsets.get(tp) == request.offset + 1

            await eventually(committed, timeout=60, what="the request committed")
    finally:
        if paused:
            os.kill(broker, signal.SIGCONT)
    assert sample("nexus_service_dlq_total", reason="handler") == 0
    assert (
        sample("nexus_service_handle_seconds_count", type="search.requested", outcome="handled")
        == 1
    )
    await one_reply(settings, "svcstall.clients")
