"""The mission's main flow with real gateway and search-service processes on a real broker.

"Receives nothing" is asserted with a marker: a later event of the same campaign partition
must be the next thing the connection sees, since Kafka keeps one campaign in order.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import orjson
import pytest

from kafka_tail import TopicTail
from mesh_processes import Mesh, joined
from nexus_mesh.client import Event, MeshClient
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, schemas_with_flow_timeout


async def next_of(client: MeshClient, timeout: float = 15.0) -> Event:
    return await client.next_event(timeout=timeout)


async def marker(publisher: Publisher, campaign: str, text: str) -> None:
    await publisher.publish(
        "campaign.updated", {"status": text, "updated_at": 0}, campaign_id=campaign
    )


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def test_search_round_trip_reaches_only_the_requesting_connection(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    mesh.service("search")
    assert gateway.url
    asker = await joined(stack, mesh, gateway.url, "acme", "alice")
    same_user = await joined(stack, mesh, gateway.url, "acme", "alice")
    other_campaign = await joined(stack, mesh, gateway.url, "globex", "alice")

    reply = await asker.request("search", {"query": "jazz concert"}, timeout=30)

    assert reply.type == "search.completed"
    hits = reply.payload["hits"]
    assert hits, "a query matching the catalog returns hits"
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert "jazz" in (hits[0]["title"] + hits[0]["snippet"]).lower()
    assert reply.metadata["connection_id"] == asker.connection_id
    assert reply.position and reply.position != asker.welcome["position"]

    await marker(publisher, "acme", "after-search")
    await marker(publisher, "globex", "after-search")
    assert (await next_of(same_user)).payload["status"] == "after-search"
    assert (await next_of(other_campaign)).payload["status"] == "after-search"


async def test_empty_query_is_answered_with_search_failed(
    mesh: Mesh, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    mesh.service("search")
    assert gateway.url
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    reply = await client.request("search", {"query": "   "}, timeout=30)
    assert reply.type == "search.failed"


async def test_request_without_reply_gets_a_gateway_timeout(
    mesh: Mesh, stack: AsyncExitStack, tmp_path: Any
) -> None:
    """No search service runs: the gateway answers the flow's timeout event itself."""
    mesh_schemas = schemas_with_flow_timeout(tmp_path, 300)
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(mesh_schemas))
    assert gateway.url
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    began = time.monotonic()
    reply = await client.request("search", {"query": "jazz"}, timeout=10)
    assert reply.type == "search.timeout"
    assert reply.payload["timeout_ms"] == 300
    assert reply.payload["query"] == "jazz"
    assert 0.25 < time.monotonic() - began < 5


async def test_a_timeout_carries_the_request_s_defaults_too(
    mesh: Mesh, stack: AsyncExitStack, tmp_path: Any
) -> None:
    """A field the client left to the request schema's default still reaches the timeout
    event that shares it (the registry lets the timeout require it)."""
    schemas = schemas_with_flow_timeout(tmp_path, 300)
    for event_type, field in (
        ("search.requested", {"name": "page_size", "type": "int", "default": 10}),
        ("search.timeout", {"name": "page_size", "type": "int"}),
    ):
        path = schemas / "events" / event_type / "v1.avsc"
        schema = orjson.loads(path.read_bytes())
        schema["fields"].append(field)
        path.write_bytes(orjson.dumps(schema))
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(schemas))
    assert gateway.url
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    reply = await client.request("search", {"query": "jazz"}, timeout=10)
    assert reply.type == "search.timeout"
    assert (reply.payload["query"], reply.payload["page_size"]) == ("jazz", 10)


async def test_a_request_still_ends_in_a_timeout_after_its_client_reconnects(
    mesh: Mesh, stack: AsyncExitStack, tmp_path: Any
) -> None:
    """No search service runs. The client drops while its request waits and resumes on the
    same gateway: the timeout still reaches it. Then it stays away past the wait, comes back
    and resends the request (same event_id, answered from the first write): the wait starts
    again, so the request still ends in a timeout rather than in silence."""
    # Long enough for the close and the resume to end before it on a loaded machine: a
    # timeout that fires while its client is away waits for a resend (flows.py).
    mesh_schemas = schemas_with_flow_timeout(tmp_path, 6000)
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(mesh_schemas))
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    await client.emit("search", {"query": "jazz"}, event_id="req-1")
    await client.close()
    resumed = await stack.enter_async_context(client.resume())
    assert (await asyncio.to_thread(stats, admin_url))["pending_requests"] == 1, (
        "req-1 still waits when its client is back"
    )
    timeout = await resumed.next_event(timeout=15)
    assert (timeout.type, timeout.correlation_id) == ("search.timeout", "req-1")

    await resumed.emit("search", {"query": "blues"}, event_id="req-2")
    await resumed.close()

    async def no_request_waits() -> bool:
        return bool((await asyncio.to_thread(stats, admin_url))["pending_requests"] == 0)

    await eventually(
        no_request_waits, timeout=30, what="req-2's wait to end while its client is away"
    )
    back = await stack.enter_async_context(resumed.resume())
    ack = await back.emit("search", {"query": "blues"}, event_id="req-2")
    assert ack.duplicate
    again = await back.next_event(timeout=15)
    assert (again.type, again.correlation_id) == ("search.timeout", "req-2")


async def test_a_reply_received_after_a_resume_is_not_followed_by_a_timeout(
    mesh: Mesh, stack: AsyncExitStack, tmp_path: Any, settings: NexusSettings
) -> None:
    """The reply comes while its client is away and reaches it in the replay on resume: the
    request is answered, so no timeout may follow, and resending it (the ack was in doubt)
    must not start a new wait either."""
    mesh_schemas = schemas_with_flow_timeout(tmp_path, 3000)
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(mesh_schemas))
    search = mesh.service("search", NEXUS_SCHEMAS_DIR=str(mesh_schemas))
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url

    async def pending() -> int:
        return int((await asyncio.to_thread(stats, admin_url))["pending_requests"])

    topics = TopicNames(prefix=settings.topic_prefix)
    tail = await stack.enter_async_context(
        TopicTail(settings, topics.clients, settings.clients_partitions)
    )
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    search.process.send_signal(signal.SIGSTOP)  # the reply must come while alice is away
    try:
        await client.emit("search", {"query": "jazz"}, event_id="asked-once")
        await client.close()
    finally:
        search.process.send_signal(signal.SIGCONT)

    async def reply_written() -> bool:
        return any(dict(r.headers).get("ce_type") == b"search.completed" for r in tail.records)

    await eventually(reply_written, what="the reply in Kafka while alice is away")
    back = await stack.enter_async_context(client.resume())
    reply = await back.next_event(timeout=10)
    assert (reply.type, reply.correlation_id) == ("search.completed", "asked-once")

    async def answered() -> bool:
        return await pending() == 0

    await eventually(answered, what="the replayed reply to end the wait")
    resent = await back.emit("search", {"query": "jazz"}, event_id="asked-once")
    assert resent.duplicate
    assert await pending() == 0, "an answered request does not wait again"


async def test_routing_across_two_gateways(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    g1, g2 = mesh.gateway(), mesh.gateway()
    assert g1.url and g2.url
    a1 = await joined(stack, mesh, g1.url, "A", "u1")
    a2 = await joined(stack, mesh, g2.url, "A", "u2")
    a3 = await joined(stack, mesh, g2.url, "A", "u1")
    b1 = await joined(stack, mesh, g1.url, "B", "u1")
    b2 = await joined(stack, mesh, g2.url, "B", "u3")
    everyone = [a1, a2, a3, b1, b2]

    # campaign.updated to A: every A connection on both gateways, no B connection.
    await publisher.publish(
        "campaign.updated", {"status": "live", "updated_at": 1}, campaign_id="A"
    )
    for client in (a1, a2, a3):
        event = await next_of(client)
        assert (event.type, event.payload["status"]) == ("campaign.updated", "live")
        assert event.metadata["campaign_id"] == "A"
    await marker(publisher, "B", "b-marker")
    for client in (b1, b2):
        assert (await next_of(client)).payload["status"] == "b-marker"

    # User-targeted: only u1's connections in A (one per gateway), not u2, not u1 in B.
    await publisher.publish(
        "campaign.updated", {"status": "for-u1", "updated_at": 2}, campaign_id="A", user_id="u1"
    )
    assert (await next_of(a1)).payload["status"] == "for-u1"
    assert (await next_of(a3)).payload["status"] == "for-u1"
    await marker(publisher, "A", "a-marker")
    await marker(publisher, "B", "b-marker-2")
    assert (await next_of(a2)).payload["status"] == "a-marker"
    assert (await next_of(a1)).payload["status"] == "a-marker"
    assert (await next_of(a3)).payload["status"] == "a-marker"
    assert (await next_of(b1)).payload["status"] == "b-marker-2"
    assert (await next_of(b2)).payload["status"] == "b-marker-2"

    # system.notice reaches everyone on every gateway.
    await publisher.broadcast("system.notice", {"level": "warning", "text": "maintenance"})
    for client in everyone:
        event = await next_of(client)
        assert (event.type, event.payload["text"]) == ("system.notice", "maintenance")

    # chat.message from a client on gateway 1 reaches A clients on gateway 2, in order.
    texts = [f"message {i}" for i in range(10)]
    for text in texts:
        await a1.emit("chat.message", {"text": text})
    for client in (a2, a3, a1):
        received = [await next_of(client) for _ in texts]
        assert [event.payload["text"] for event in received] == texts
        assert {e.metadata["attributes"]["nexus.sender_user_id"] for e in received} == {"u1"}
    await marker(publisher, "B", "b-marker-3")
    assert (await next_of(b1)).payload["status"] == "b-marker-3"
    assert (await next_of(b2)).payload["status"] == "b-marker-3"


def stats(admin_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(admin_url + "/stats", timeout=5) as response:
        data: dict[str, Any] = orjson.loads(response.read())
        return data


async def test_gateway_assigns_only_the_partitions_of_its_campaigns(
    mesh: Mesh, settings: Any
) -> None:
    gateway = mesh.gateway()
    assert gateway.url and gateway.admin_url
    prefix = settings.topic_prefix
    system = {f"{prefix}.system:0"}
    assert set(stats(gateway.admin_url)["assigned_partitions"]) == system
    partition = campaign_partition("A", settings.clients_partitions)
    expected = system | {f"{prefix}.clients:{partition}"}
    async with AsyncExitStack() as stack:
        await joined(stack, mesh, gateway.url, "A", "u1")
        await joined(stack, mesh, gateway.url, "A", "u2")
        assert set(stats(gateway.admin_url)["assigned_partitions"]) == expected
    admin_url = gateway.admin_url

    async def released() -> bool:
        return set(stats(admin_url)["assigned_partitions"]) == system

    await eventually(released, what="the last A client leaving releases A's partition")


async def test_two_connections_of_one_user_coexist(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    first = await joined(stack, mesh, gateway.url, "A", "u1")
    second = await joined(stack, mesh, gateway.url, "A", "u1")
    assert first.connection_id != second.connection_id
    await publisher.publish(
        "campaign.updated", {"status": "both", "updated_at": 3}, campaign_id="A", user_id="u1"
    )
    assert (await next_of(first)).payload["status"] == "both"
    assert (await next_of(second)).payload["status"] == "both"
    await second.close()
    ack = await first.emit("chat.message", {"text": "still here"})
    assert ack.offset >= 0
    assert (await next_of(first)).payload["text"] == "still here"


async def test_concurrent_requests_are_answered_to_their_own_connection(
    mesh: Mesh, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    mesh.service("search")
    assert gateway.url
    clients = [await joined(stack, mesh, gateway.url, "acme", f"user{i}") for i in range(4)]
    queries = ["jazz", "football", "conference", "festival"]
    replies = await asyncio.gather(
        *(
            c.request("search", {"query": q}, timeout=30)
            for c, q in zip(clients, queries, strict=True)
        )
    )
    for client, query, reply in zip(clients, queries, replies, strict=True):
        assert reply.type == "search.completed"
        assert reply.payload["query"] == query
        assert reply.metadata["connection_id"] == client.connection_id


async def test_the_record_names_the_connection_whatever_the_client_claims(
    mesh: Mesh, stack: AsyncExitStack, settings: NexusSettings
) -> None:
    """DESIGN.md section 2: a client sets only event_id, correlation_id and attributes; the
    gateway fills campaign, user, connection, source and time from the authenticated
    connection and never trusts what the client sent in their place. Checked on the records
    in Kafka, headers included, for a request (addressed back to its sender) and for a
    campaign event (its sender named in attributes the client cannot forge)."""
    gateway = mesh.gateway()
    assert gateway.url
    topics = TopicNames(prefix=settings.topic_prefix)
    search_tail = await stack.enter_async_context(
        TopicTail(settings, topics.domain("search"), settings.domain_partitions)
    )
    clients_tail = await stack.enter_async_context(
        TopicTail(settings, topics.clients, settings.clients_partitions)
    )
    client = await joined(stack, mesh, gateway.url, "acme", "alice")
    forged = {
        "campaign_id": "other",
        "user_id": "mallory",
        "connection_id": "0" * 32,
        "source": "gateway/evil",
        "time": 1,
    }
    for type_, payload, event_id in (
        ("search", {"query": "jazz"}, "forged-search"),
        ("chat.message", {"text": "hi"}, "forged-chat"),
    ):
        frame = {"type": type_, "payload": payload, "metadata": {"event_id": event_id, **forged}}
        await client.send_raw(orjson.dumps(frame).decode())
        answer = await client.next_protocol_frame(timeout=10)
        assert (answer.type, answer.payload["event_id"]) == ("nexus.ack", event_id), answer

    registry = load_registry(settings.schemas_dir)
    codec = BinaryCodec(registry)
    sent_at = time.time()

    async def written(tail: TopicTail, event_id: str) -> Any:
        found = tail.with_header("ce_id", event_id)
        return found[0] if found else None

    for tail, event_id in ((search_tail, "forged-search"), (clients_tail, "forged-chat")):
        record = await eventually(
            functools.partial(written, tail, event_id), what=f"{event_id} in Kafka"
        )
        meta = codec.decode(record.value).metadata
        headers = dict(record.headers)
        assert record.key == b"acme"
        assert meta.campaign_id == "acme" and headers["nexus-campaign"] == b"acme"
        assert meta.source.startswith("gateway/") and meta.source != "gateway/evil"
        assert headers["ce_source"] == meta.source.encode()
        assert abs(meta.time / 1000 - sent_at) < 60, "the gateway's clock, not the client's"
        ce_time = datetime.fromisoformat(headers["ce_time"].decode())
        assert abs(ce_time.timestamp() - meta.time / 1000) < 0.002
        assert headers["content-type"] == b"application/vnd.nexus.envelope+avro"
        if event_id == "forged-search":
            # A request names its sender, so that the reply reaches it alone.
            assert (meta.user_id, meta.connection_id) == ("alice", client.connection_id)
            assert headers["nexus-user"] == b"alice"
            assert headers["nexus-connection"] == client.connection_id.encode()
        else:
            # Delivered to the whole campaign: the sender travels in attributes.
            assert (meta.user_id, meta.connection_id) == (None, None)
            assert meta.attributes["nexus.sender_user_id"] == "alice"
            assert meta.attributes["nexus.sender_connection_id"] == client.connection_id


async def test_a_campaign_peer_cannot_answer_another_client_s_request(
    mesh: Mesh, stack: AsyncExitStack
) -> None:
    """A peer in the campaign sends a chat message carrying the correlation id of alice's
    pending search: it reaches alice as an ordinary event, and her request still ends in the
    search service's reply."""
    gateway = mesh.gateway()
    search = mesh.service("search")
    assert gateway.url
    alice = await joined(stack, mesh, gateway.url, "acme", "alice")
    mallory = await joined(stack, mesh, gateway.url, "acme", "mallory")
    search.process.send_signal(signal.SIGSTOP)  # the real reply waits until the forgery is in
    try:
        asked = asyncio.create_task(
            alice.request("search", {"query": "jazz"}, event_id="asked-1", timeout=30)
        )
        await mallory.emit("chat.message", {"text": "forged"}, correlation_id="asked-1")
        forged = await next_of(alice)
        assert (forged.type, forged.correlation_id) == ("chat.message", "asked-1")
        assert not asked.done(), "the peer's message was taken for the reply"
    finally:
        search.process.send_signal(signal.SIGCONT)
    reply = await asked
    assert reply.type == "search.completed"
