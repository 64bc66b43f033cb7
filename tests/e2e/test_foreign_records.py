"""Records a producer outside the SDK gets wrong, read by a real gateway process.

The SDK's publisher refuses to write these; a service in another language, or a script, can.
Each is skipped, counted and said, live and on a resume's replay alike, and the campaign's
next event still arrives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from clients_topic import campaign_update, write
from mesh_processes import Mesh, MeshProcess
from nexus_mesh.client import MeshClient
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import BROADCAST_CAMPAIGN, Envelope, Metadata
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, metric_value, schemas_with_flow_timeout
from nexus_testkit import scrape_metrics as scrape


@pytest.fixture
def codec(settings: NexusSettings) -> Codec:
    return Codec(load_registry(settings.schemas_dir))


@pytest.fixture
async def producer(settings: NexusSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**client_kwargs(settings), max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def event(codec: Codec, type_: str, payload: dict[str, Any], **metadata: Any) -> Envelope:
    """An envelope as a foreign producer might build it: any type, any addressing."""
    return Envelope(
        type=type_,
        payload=codec.payload_from_json(type_, payload),
        metadata=Metadata(event_id=uuid.uuid4().hex, source="foreign", time=1, **metadata),
    )


async def frames_after_welcome(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    """The next ``count`` frames a raw socket gets, the welcome left out: what a client would
    act on, protocol frames included."""
    frames = []
    while len(frames) < count:
        message = await asyncio.wait_for(ws.receive(), timeout=15)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame = orjson.loads(message.data)
        if frame["type"] != "nexus.welcome":
            frames.append(frame)
    return frames


async def test_events_of_a_type_not_sent_on_their_topic_never_reach_clients(
    mesh: Mesh, settings: NexusSettings, codec: Codec, producer: AIOKafkaProducer
) -> None:
    """A protocol event on the clients topic would be taken for the gateway's own answer (a
    forged ``nexus.ack`` settles a client's pending emit), a domain request is not for clients,
    and an event addressed to one campaign on the system topic would reach every tenant. None
    is delivered, live or replayed; the events after them are."""
    gateway = mesh.gateway()
    assert gateway.url
    topics = TopicNames(prefix=settings.topic_prefix)
    partition = campaign_partition("B", settings.clients_partitions)
    headers = {"Authorization": f"Bearer {mesh.token('bob', ['B'])}"}
    other = {"Authorization": f"Bearer {mesh.token('dave', ['D'])}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{gateway.url}/ws/B/bob", headers=headers) as bob,
        http.ws_connect(f"{gateway.url}/ws/D/dave", headers=other) as dave,
    ):
        welcome = orjson.loads((await bob.receive(timeout=15)).data)
        since = welcome["payload"]["position"]
        forged_ack = {"event_id": "e1", "topic": "t", "partition": 0, "offset": 1}
        wrong_kind = [
            event(codec, "nexus.ack", forged_ack, campaign_id="B"),
            event(codec, "search.requested", {"query": "q"}, campaign_id="B", user_id="bob"),
            event(codec, "system.notice", {"text": "not here"}, campaign_id="B"),
        ]
        for envelope in [*wrong_kind, campaign_update(codec, "for-b", campaign_id="B")]:
            await write(producer, topics.clients, partition, envelope, codec)
        # On the system topic: one addressed to campaign B (every tenant would get it), then
        # a true broadcast.
        leak = event(codec, "system.notice", {"text": "for B only"}, campaign_id="B")
        notice = event(codec, "system.notice", {"text": "all"}, campaign_id=BROADCAST_CAMPAIGN)
        for envelope in (leak, notice):
            await write(producer, topics.system, 0, envelope, codec)

        first = await frames_after_welcome(bob, 2)
        assert sorted(f["type"] for f in first) == ["campaign.updated", "system.notice"]
        assert {f["payload"].get("status") or f["payload"]["text"] for f in first} == {
            "for-b",
            "all",
        }
        assert [f["payload"]["text"] for f in await frames_after_welcome(dave, 1)] == ["all"]

        replayed = await http.ws_connect(f"{gateway.url}/ws/B/bob?since={since}", headers=headers)
        async with replayed:
            again = await frames_after_welcome(replayed, 2)
            assert sorted(f["type"] for f in again) == sorted(f["type"] for f in first)

    samples = await scrape(gateway.url)
    assert metric_value(samples, "nexus_gateway_misrouted_records_total") == 4
    log = gateway.log()
    assert "type nexus.ack is not sent on clients" in log
    assert "ce_source 'foreign'" in log
    assert "it names campaign 'B'" in log


LIMIT = 64 * 1024  # the gateways' NEXUS_GATEWAY_MAX_DELIVERY_BYTES in the size tests


def limited_gateway(mesh: Mesh, tmp_path: Path, flow_timeout_ms: int) -> MeshProcess:
    """A gateway sending no frame over ``LIMIT``, whose search flow times out soon."""
    gateway = mesh.gateway(
        NEXUS_GATEWAY_MAX_DELIVERY_BYTES=str(LIMIT),
        NEXUS_SCHEMAS_DIR=str(schemas_with_flow_timeout(tmp_path, flow_timeout_ms)),
    )
    assert gateway.url
    return gateway


def huge_reply(codec: Codec, *, connection_id: str, correlation_id: str) -> Envelope:
    """bob's ``search.completed``: small on Kafka as Avro would not be (a title of 100 bytes
    per hit), over ``LIMIT`` as JSON."""
    hits = [{"id": str(i), "title": "t" * 100, "score": 1.0} for i in range(LIMIT // 100)]
    return event(
        codec,
        "search.completed",
        {"query": "big", "hits": hits},
        campaign_id="B",
        user_id="bob",
        connection_id=connection_id,
        correlation_id=correlation_id,
    )


async def test_an_event_too_large_for_clients_is_skipped_and_its_request_times_out(
    mesh: Mesh, settings: NexusSettings, codec: Codec, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """A reply whose JSON frame is over what clients accept: sent, it closed the client's
    socket (1009), and every resume replayed it and closed again. Now it is skipped live and
    on replay, counted and said, the connection stays, and the request gets its flow's
    timeout event instead of waiting for ever."""
    gateway = limited_gateway(mesh, tmp_path, 1500)
    assert gateway.url
    clients = TopicNames(prefix=settings.topic_prefix).clients
    partition = campaign_partition("B", settings.clients_partitions)
    token = mesh.token("bob", ["B"])
    async with MeshClient.connect(gateway.url, campaign_id="B", user_id="bob", token=token) as c:
        since = c.position
        asked = asyncio.create_task(c.request("search", {"query": "big"}, correlation_id="big-1"))
        huge = huge_reply(codec, connection_id=c.connection_id, correlation_id="big-1")
        await write(producer, clients, partition, huge, codec)
        await write(
            producer, clients, partition, campaign_update(codec, "after", campaign_id="B"), codec
        )
        reply = await asyncio.wait_for(asked, timeout=15)
        assert reply.type == "search.timeout"
        assert (await c.next_event(timeout=15)).payload["status"] == "after"

    async with MeshClient.connect(
        gateway.url, campaign_id="B", user_id="bob", token=token, since=since
    ) as resumed:
        assert resumed.welcome["recovered"] is True
        assert (await resumed.next_event(timeout=15)).payload["status"] == "after"
        assert not resumed.closed

    samples = await scrape(gateway.url)
    oversized = metric_value(
        samples, "nexus_gateway_oversized_deliveries_total", type="search.completed"
    )
    assert oversized == 2  # live, then replayed
    assert f"over NEXUS_GATEWAY_MAX_DELIVERY_BYTES ({LIMIT})" in gateway.log()


async def test_an_oversized_reply_to_a_requester_who_is_away_still_times_its_request_out(
    mesh: Mesh, settings: NexusSettings, codec: Codec, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """The reply arrives while its requester is away: it answered the request (so no timeout
    was owed), and the resume's replay skipped it for its size: the resent request got a
    duplicate ack and then nothing. Now the request times out, and the resend gets that."""
    gateway = limited_gateway(mesh, tmp_path, 2000)
    assert gateway.url
    clients = TopicNames(prefix=settings.topic_prefix).clients
    partition = campaign_partition("B", settings.clients_partitions)
    token = mesh.token("bob", ["B"])
    # Another user of the campaign keeps its partition read while bob is away.
    async with MeshClient.connect(
        gateway.url, campaign_id="B", user_id="carol", token=mesh.token("carol", ["B"])
    ):
        async with MeshClient.connect(
            gateway.url, campaign_id="B", user_id="bob", token=token
        ) as bob:
            since, connection_id = bob.position, bob.connection_id
            ack = await bob.emit("search", {"query": "big"}, correlation_id="big-2")
        huge = huge_reply(codec, connection_id=connection_id, correlation_id="big-2")
        await write(producer, clients, partition, huge, codec)

        async def timed_out() -> bool:
            samples = await scrape(gateway.url or "")
            return (
                metric_value(samples, "nexus_gateway_flow_timeouts_total", type="search.timeout")
                == 1
            )

        await eventually(timed_out, what="the request's timeout while bob is away")
        async with MeshClient.connect(
            gateway.url,
            campaign_id="B",
            user_id="bob",
            token=token,
            since=since,
            connection_id=connection_id,
        ) as back:
            reply = await back.request(
                "search", {"query": "big"}, event_id=ack.event_id, correlation_id="big-2"
            )
            assert reply.type == "search.timeout"
