"""A broker outage: retryable errors within a bounded time, no false acks, self-recovery.

These tests run their own single-broker cluster (``own_kafka``), since they stop the broker
mid-test.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from kafka_tail import TopicTail
from mesh_processes import Mesh
from nexus_mesh.client import MeshClient, MeshConnectError, MeshError
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, metric_value, scrape_metrics


def ready(url: str) -> int:
    return readiness(url)[0]


def readiness(url: str) -> tuple[int, dict[str, object]]:
    """``/readyz``'s status and body (0 and {} when it does not answer)."""
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
            return int(response.status), orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())
    except OSError:
        return 0, {}


async def test_outage_answers_unavailable_and_recovers_by_itself(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    cluster, bootstrap = own_kafka
    settings = NexusSettings(
        kafka_bootstrap_servers=bootstrap, topic_prefix="outage", clients_partitions=2
    )
    await ensure_topics(settings, load_registry(settings.schemas_dir).domains)
    mesh = Mesh(bootstrap=bootstrap, prefix="outage", workdir=tmp_path)
    mesh.env_overrides["NEXUS_CLIENTS_PARTITIONS"] = "2"
    try:
        gateway = mesh.gateway(
            NEXUS_GATEWAY_PRODUCE_TIMEOUT_S="3", NEXUS_KAFKA_REQUEST_TIMEOUT_MS="4000"
        )
        search = mesh.service("search", NEXUS_KAFKA_REQUEST_TIMEOUT_MS="4000")
        assert gateway.url and gateway.admin_url
        admin = gateway.admin_url
        acked: list[str] = []
        async with await MeshClient.connect(
            gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
        ) as client:
            # A second client leaves after "before" and comes back during and after the outage.
            async with await MeshClient.connect(
                gateway.url, campaign_id="A", user_id="u2", token=mesh.token("u2", ["A"])
            ) as leaver:
                acked.append((await client.emit("chat.message", {"text": "before"})).event_id)
                assert (await client.next_event(timeout=15)).payload["text"] == "before"
                assert (await leaver.next_event(timeout=15)).payload["text"] == "before"
                left_at = leaver.position

            await asyncio.to_thread(cluster.stop)
            began = time.monotonic()
            with pytest.raises(MeshError) as caught:
                await client.emit("chat.message", {"text": "during"}, timeout=30)
            # Kafka took the write but cannot confirm it: it may land once the broker is back,
            # so the answer says "unconfirmed", not a rejection ("unavailable").
            assert caught.value.code == "unconfirmed"
            assert caught.value.retryable is True
            assert time.monotonic() - began < 10, "the answer comes within a bounded time"
            refused_id = caught.value.event_id
            # The wait is on record: a latency panel shows the outage, not only successes.
            during = await scrape_metrics(gateway.url)
            latency = "nexus_gateway_produce_latency_seconds"
            assert metric_value(during, f"{latency}_count", outcome="in_doubt") == 1
            assert (metric_value(during, f"{latency}_sum", outcome="in_doubt") or 0) >= 3

            async def kafka_not_ready() -> bool:
                # Kafka itself named as the reason, not only the delivery it stops.
                status, body = readiness(admin)
                return status == 503 and body.get("kafka") is False

            await eventually(kafka_not_ready, timeout=30, what="/readyz to report the outage")
            # Kafka cannot say whether the position is still readable: the answer is "retry"
            # (a close before the welcome), never recovered=false with events skipped.
            with pytest.raises(MeshConnectError) as resume_refused:
                async with await MeshClient.connect(
                    gateway.url,
                    campaign_id="A",
                    user_id="u2",
                    token=mesh.token("u2", ["A"]),
                    since=left_at,
                    connect_timeout=30,
                ):
                    pass
            assert resume_refused.value.retriable
            assert not client.closed, "the gateway keeps its connections through an outage"

            await asyncio.to_thread(cluster.start, nodes=1, port=0)

            async def recovered() -> bool:
                return ready(admin) == 200

            await eventually(recovered, timeout=60, what="/readyz after the broker returns")
            # The log tells the outage's end too, not only its start.

            async def said_back() -> bool:
                return "Kafka reachable again from the delivery consumer after" in gateway.log()

            await eventually(said_back, timeout=30, what="the log to say Kafka is back")

            async def service_said_back() -> bool:
                return "Kafka answers again" in search.log()

            # The service's last word on the outage is not its warning either.
            await eventually(service_said_back, timeout=60, what="the service to say so too")
            # The client retries with the same event_id: one record, whatever happened to
            # the first attempt, then new events flow both ways again.
            retried = await client.emit(
                "chat.message", {"text": "during"}, event_id=refused_id, timeout=30
            )
            acked.append(retried.event_id)
            after = await client.emit("chat.message", {"text": "after"}, timeout=30)
            acked.append(after.event_id)
            texts = [(await client.next_event(timeout=30)).payload["text"] for _ in range(2)]
            assert texts == ["during", "after"]
            async with await MeshClient.connect(
                gateway.url,
                campaign_id="A",
                user_id="u2",
                token=mesh.token("u2", ["A"]),
                since=left_at,
            ) as back:
                assert back.welcome["recovered"] is True
                missed = [(await back.next_event(timeout=30)).payload["text"] for _ in range(2)]
                assert missed == ["during", "after"]

        topic = TopicNames(prefix="outage").clients
        async with TopicTail(settings, topic, 2) as tail:

            async def all_acked_present() -> bool:
                ids = {dict(r.headers)["ce_id"].decode() for r in tail.records}
                return set(acked) <= ids

            await eventually(all_acked_present, what="every acked event in Kafka")
            copies = [r for r in tail.records if dict(r.headers)["ce_id"].decode() == refused_id]
            assert len(copies) == 1, "the in-doubt write and its retry made one record"
    finally:
        mesh.close()


async def test_a_gateway_and_a_service_stopped_during_an_outage_exit_cleanly(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """Pods are rescheduled while Kafka is down too. aiokafka's consumer stop can end in a
    stray CancelledError then; it used to abort the rest of the shutdown (a traceback, the
    producer left unclosed, the last spans never exported)."""
    cluster, bootstrap = own_kafka
    settings = NexusSettings(kafka_bootstrap_servers=bootstrap, topic_prefix="down")
    await ensure_topics(settings, load_registry(settings.schemas_dir).domains)
    mesh = Mesh(bootstrap=bootstrap, prefix="down", workdir=tmp_path)
    try:
        gateway = mesh.gateway()
        search = mesh.service("search")
        assert gateway.url and gateway.admin_url
        admin = gateway.admin_url
        # A client makes the delivery consumer fetch (its campaign's partition is assigned).
        async with await MeshClient.connect(
            gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
        ):
            await asyncio.to_thread(cluster.stop)

            async def not_ready() -> bool:
                return ready(admin) == 503

            await eventually(not_ready, timeout=30, what="/readyz to report the outage")
            gateway.process.terminate()
            search.process.terminate()
            code = await asyncio.to_thread(gateway.process.wait, 60)
            search_code = await asyncio.to_thread(search.process.wait, 60)
        log = gateway.log()
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        assert "Unclosed AIOKafka" not in log
        assert "Kafka unreachable from the delivery consumer: no answer within" in log
        search_log = search.log()
        assert search_code == 0, search_log[-3000:]
        assert "Traceback" not in search_log, search_log[-3000:]
        assert "Unclosed AIOKafka" not in search_log
    finally:
        mesh.close()
