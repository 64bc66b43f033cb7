"""Prometheus metrics of real gateway and search-service processes move with real traffic."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest

from clients_topic import campaign_update, raw_producer, write
from mesh_processes import Mesh
from nexus_mesh.client import MeshClient, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import MetricSamples as Samples
from nexus_testkit import eventually, metric_value
from nexus_testkit import scrape_metrics as scrape


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample; a metric the process does not serve fails the test (never a silent 0)."""
    found = metric_value(samples, name, **labels)
    assert found is not None, f"no sample {name}{labels or ''}"
    return found


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def test_counters_move_with_real_traffic(mesh: Mesh, settings: NexusSettings) -> None:
    gateway = mesh.gateway()
    search = mesh.service("search")
    assert gateway.url and search.url
    gw_before = await scrape(gateway.url)
    svc_before = await scrape(search.url)
    prefix = settings.topic_prefix
    assert value(gw_before, "nexus_gateway_connections") == 0
    # Before any client joins, the system topic's partitions are assigned and counted.
    system = ("nexus_gateway_assigned_partitions", frozenset({("topic", f"{prefix}.system")}))
    assert gw_before.get(system, 0.0) >= 1
    assert value(svc_before, "nexus_service_assigned_partitions", service="search") == 2
    # The timeout alert's ratio reads these from the start: each flow named, at 0.
    flow = {"flow": "search", "request": "search.requested", "timeout": "search.timeout"}
    assert value(gw_before, "nexus_gateway_flow_info", **flow) == 1
    assert value(gw_before, "nexus_gateway_flow_timeouts_total", type="search.timeout") == 0
    assert value(gw_before, "nexus_gateway_events_in_total", type="search.requested") == 0
    # One series per value, not a second one per counter for its start time.
    assert not {n for n in names(gw_before) | names(svc_before) if n.endswith("_created")}

    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="alice", token=mesh.token("alice", ["acme"])
    ) as client:
        for query in ("password", "invoice", "refund"):
            reply = await client.request("search", {"query": query})
            assert reply.type == "search.completed"
        await client.emit("chat.message", {"text": "hello"})
        with pytest.raises(MeshError, match="schema_invalid"):
            await client.emit("search", {"no_query": True})
        during = await scrape(gateway.url)
        position = client.position
    assert position is not None

    # A resume from the last position is honoured, and counted as recovered.
    async with MeshClient.connect(
        gateway.url,
        campaign_id="acme",
        user_id="alice",
        token=mesh.token("alice", ["acme"]),
        since=position,
    ) as again:
        assert again.recovered

    gw = await scrape(gateway.url)
    assert value(during, "nexus_gateway_connections") == 1
    assert value(during, "nexus_gateway_campaigns") == 1
    assert value(during, "nexus_gateway_assigned_partitions", topic=f"{prefix}.clients") == 1
    assert value(gw, "nexus_gateway_events_in_total", type="search.requested") == 3
    assert value(gw, "nexus_gateway_events_in_total", type="chat.message") == 1
    assert value(gw, "nexus_gateway_acks_total") == 4
    assert value(gw, "nexus_gateway_errors_total", code="schema_invalid") == 1
    assert value(gw, "nexus_gateway_events_out_total", type="search.completed") == 3
    assert value(gw, "nexus_gateway_events_out_total", type="chat.message") >= 1
    assert value(gw, "nexus_gateway_produce_latency_seconds_count", outcome="ok") == 4
    # Every live event frame written to the socket: three replies and the chat message.
    assert value(gw, "nexus_gateway_delivery_latency_seconds_count") >= 4
    # Each search's round trip as its client waited for it; the refused one never started.
    assert value(gw_before, "nexus_gateway_request_seconds_count", flow="search") == 0
    assert value(gw, "nexus_gateway_request_seconds_count", flow="search") == 3
    assert 0 < value(gw, "nexus_gateway_request_seconds_sum", flow="search") < 30
    assert value(gw, "nexus_gateway_resumes_total", recovered="true") == 1
    assert "nexus_gateway_slow_consumer_closes_total" in names(gw)
    assert "nexus_gateway_token_expiry_closes_total" in names(gw)
    assert value(gw, "nexus_gateway_delivery_failures_total") == 0
    # The process itself: each WebSocket holds a file descriptor.
    assert value(during, "process_open_fds") > 0
    assert "nexus_gateway_consumer_lag" in names(during)
    lags = [v for (name, _), v in during.items() if name == "nexus_gateway_consumer_lag"]
    assert lags and all(lag >= 0 for lag in lags)

    handled = (
        "nexus_service_events_handled_total",
        {"service": "search", "type": "search.requested"},
    )

    async def settled() -> Samples | None:
        # The service counts a request handled, and commits it (what its lag is measured
        # from), just after it sent the reply the client may already have.
        samples = await scrape(search.url)
        lags = [v for (name, _), v in samples.items() if name == "nexus_service_consumer_lag"]
        # A series that is not there yet (nothing handled) is a poll's "not yet".
        count = metric_value(samples, handled[0], **handled[1]) or 0.0
        done = count >= 3 and lags and not any(lags)
        return samples if done else None

    svc = await eventually(settled, what="the search service's counters after three requests")
    assert value(svc, handled[0], **handled[1]) == 3
    assert (
        value(svc, "nexus_service_events_in_total", service="search", type="search.requested") == 3
    )
    assert (
        value(svc, "nexus_service_events_out_total", service="search", type="search.completed") == 3
    )
    assert (
        value(
            svc,
            "nexus_service_handle_seconds_count",
            service="search",
            type="search.requested",
            outcome="handled",
        )
        == 3
    )
    age = ("nexus_service_record_age_seconds_count", {"service": "search"})
    assert value(svc, age[0], type="search.requested", **age[1]) == 3
    lags = [v for (name, _), v in svc.items() if name == "nexus_service_consumer_lag"]
    assert lags and all(lag == 0 for lag in lags)


async def test_dead_letters_are_counted(mesh: Mesh, settings: NexusSettings) -> None:
    search = mesh.service("search")
    assert search.url
    topics = TopicNames(prefix=settings.topic_prefix)
    producer = EnvelopeProducer(
        settings=settings, codec=Codec(load_registry(settings.schemas_dir)), client_id="e2e-raw"
    )
    await producer.start()
    try:
        await producer.send_raw(
            topic=topics.domain("search"), key=b"acme", value=b"\x00not an envelope", headers=[]
        )
    finally:
        await producer.stop()

    async def dead_lettered() -> float:
        samples = await scrape(search.url or "")
        return value(samples, "nexus_service_dlq_total", service="search", reason="undecodable")

    assert await eventually(dead_lettered, what="the DLQ counter") == 1


def elsewhere_than(campaign: str, partitions: int, *, prefix: str) -> str:
    """A campaign id starting with ``prefix`` whose partition is not ``campaign``'s."""
    own = campaign_partition(campaign, partitions)
    return next(
        f"{prefix}{i}" for i in range(100) if campaign_partition(f"{prefix}{i}", partitions) != own
    )


async def test_a_record_on_another_campaign_s_partition_is_counted_and_said(
    mesh: Mesh, settings: NexusSettings
) -> None:
    """A producer that partitions otherwise than Kafka's default (murmur2 of the campaign
    key) puts a campaign's record where its clients do not read: the gateway reading that
    partition for another campaign skips it, counts it and says so, once per campaign."""
    gateway = mesh.gateway()
    assert gateway.url
    partitions = settings.clients_partitions
    stray = elsewhere_than("B", partitions, prefix="A")
    codec = Codec(load_registry(settings.schemas_dir))
    topic = TopicNames(prefix=settings.topic_prefix).clients

    async with MeshClient.connect(
        gateway.url, campaign_id="B", user_id="bob", token=mesh.token("bob", ["B"])
    ) as client:
        async with raw_producer(settings) as producer:
            misplaced = campaign_update(codec, "misplaced", campaign_id=stray, source="elsewhere")
            for_b = campaign_update(codec, "for-b", campaign_id="B", source="elsewhere")
            for envelope in (misplaced, for_b):
                # Both on B's partition, as a producer hashing keys otherwise might.
                await write(producer, topic, campaign_partition("B", partitions), envelope, codec)
        received = await client.next_event(timeout=15)
        # B's own record, after the stray one in the same partition: that one was skipped.
        assert received.payload["status"] == "for-b"

    samples = await scrape(gateway.url)
    assert value(samples, "nexus_gateway_misrouted_records_total") == 1
    said = [line for line in gateway.log().splitlines() if "belongs to partition" in line]
    assert len(said) == 1 and f"campaign '{stray}'" in said[0]
    assert "ce_source 'elsewhere'" in said[0], "the producing team finds its own records"


async def test_each_producer_mistake_about_a_campaign_is_said(
    mesh: Mesh, settings: NexusSettings
) -> None:
    """A campaign's record on another campaign's partition, then one of its records with a
    lying campaign header: two mistakes, two lines (the first used to silence the second for
    the life of the process)."""
    gateway = mesh.gateway()
    assert gateway.url
    partitions = settings.clients_partitions
    other = elsewhere_than("B", partitions, prefix="D")
    codec = Codec(load_registry(settings.schemas_dir))
    topic = TopicNames(prefix=settings.topic_prefix).clients
    async with (
        MeshClient.connect(
            gateway.url, campaign_id="B", user_id="bob", token=mesh.token("bob", ["B"])
        ) as bob,
        MeshClient.connect(
            gateway.url, campaign_id=other, user_id="dan", token=mesh.token("dan", [other])
        ) as dan,
    ):
        async with raw_producer(settings) as producer:
            astray = campaign_update(codec, "astray", campaign_id="B", source="team-x")
            lying = campaign_update(codec, "lying", campaign_id="B", source="team-y")
            for_dan = campaign_update(codec, "for-dan", campaign_id=other, source="team-x")
            for_bob = campaign_update(codec, "for-bob", campaign_id="B", source="team-y")
            dans, bobs = campaign_partition(other, partitions), campaign_partition("B", partitions)
            await write(producer, topic, dans, astray, codec)
            await write(producer, topic, dans, for_dan, codec)
            await write(producer, topic, bobs, lying, codec, headers={"nexus-campaign": b"C"})
            await write(producer, topic, bobs, for_bob, codec)
        assert (await dan.next_event(timeout=15)).payload["status"] == "for-dan"
        assert (await bob.next_event(timeout=15)).payload["status"] == "for-bob"
    lines = gateway.log().splitlines()
    assert any("campaign 'B' belongs to partition" in s and "'team-x'" in s for s in lines)
    assert any("campaign 'C', its envelope 'B'" in s and "'team-y'" in s for s in lines)


async def test_a_record_whose_campaign_header_lies_is_skipped_live_and_on_replay(
    mesh: Mesh, settings: NexusSettings
) -> None:
    """A producer copying another campaign's headers: a resume's replay filters by that
    header, so live delivery must not deliver it either, or a resumed client would have a
    gap. Neither does; it is counted and said."""
    gateway = mesh.gateway()
    assert gateway.url
    codec = Codec(load_registry(settings.schemas_dir))
    topic = TopicNames(prefix=settings.topic_prefix).clients
    partition = campaign_partition("B", settings.clients_partitions)
    token = mesh.token("bob", ["B"])
    async with MeshClient.connect(gateway.url, campaign_id="B", user_id="bob", token=token) as c:
        since = c.position
        async with raw_producer(settings) as producer:
            lying = campaign_update(codec, "labelled-c", campaign_id="B", source="elsewhere")
            honest = campaign_update(codec, "for-b", campaign_id="B", source="elsewhere")
            await write(producer, topic, partition, lying, codec, headers={"nexus-campaign": b"C"})
            await write(producer, topic, partition, honest, codec)
        assert (await c.next_event(timeout=15)).payload["status"] == "for-b"
    async with MeshClient.connect(
        gateway.url, campaign_id="B", user_id="bob", token=token, since=since
    ) as resumed:
        assert resumed.welcome["recovered"] is True
        assert (await resumed.next_event(timeout=15)).payload["status"] == "for-b"
    samples = await scrape(gateway.url)
    assert value(samples, "nexus_gateway_misrouted_records_total") == 1
    assert "its nexus-campaign header names campaign 'C', its envelope 'B'" in gateway.log()


async def test_a_running_service_answers_the_kubelet_s_probes(mesh: Mesh) -> None:
    """The search service process serves /healthz and, once its consumer group is joined,
    /readyz on its metrics port: what the chart's probes read."""
    search = mesh.service("search")
    assert search.url

    async def status(path: str) -> int:
        def get() -> int:
            try:
                with urllib.request.urlopen(f"{search.url}{path}", timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return error.code

        return await asyncio.to_thread(get)

    assert await status("/healthz") == 200

    async def ready() -> bool:
        return await status("/readyz") == 200

    await eventually(ready, what="the search service to be ready")
    samples = await scrape(search.url)
    assert value(samples, "nexus_service_assigned_partitions", service="search") == 2
