"""Resume (DESIGN.md section 5): `since` delivers exactly what was missed, on any gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import TopicPartition

from kafka_tail import TopicTail
from mesh_processes import Mesh
from nexus_mesh.client import (
    Event,
    MeshClient,
    MeshClosedError,
    MeshConnectError,
    MeshTimeoutError,
    new_event_id,
)
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.position import Position
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import NexusSettings
from nexus_testkit import (
    eventually,
    gateway_connections,
    metric_value,
    schemas_with_flow_timeout,
    scrape_metrics,
)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def open_client(
    stack: AsyncExitStack, mesh: Mesh, url: str, *, since: str | None = None
) -> MeshClient:
    client = await MeshClient.connect(
        url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"]), since=since
    )
    return await stack.enter_async_context(client)


async def publish_seq(publisher: Publisher, start: int, count: int) -> None:
    for n in range(start, start + count):
        await publisher.publish(
            "campaign.updated", {"status": f"seq-{n}", "updated_at": n}, campaign_id="A"
        )


def seq(event: Event) -> int:
    return int(event.payload["status"].removeprefix("seq-"))


async def test_resume_on_another_gateway_misses_nothing(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    g1, g2 = mesh.gateway(), mesh.gateway()
    assert g1.url and g2.url
    first = await open_client(stack, mesh, g1.url)
    await publish_seq(publisher, 0, 5)
    seen = [seq(await first.next_event(timeout=15)) for _ in range(5)]
    position = first.position
    await first.close()

    # While it is away: campaign events and a broadcast.
    await publish_seq(publisher, 5, 20)
    await publisher.broadcast("system.notice", {"level": "info", "text": "while away"})

    resumed = await open_client(stack, mesh, g2.url, since=position)
    assert resumed.welcome["recovered"] is True
    assert resumed.welcome["position"] == position
    replayed = [await resumed.next_event(timeout=15) for _ in range(21)]
    campaign = [seq(e) for e in replayed if e.type == "campaign.updated"]
    notices = [e.payload["text"] for e in replayed if e.type == "system.notice"]
    assert seen + campaign == list(range(25)), "exactly the missed events, in order"
    assert notices == ["while away"]

    # Then it is live.
    await publish_seq(publisher, 25, 3)
    assert [seq(await resumed.next_event(timeout=15)) for _ in range(3)] == [25, 26, 27]


async def test_resume_while_events_keep_arriving(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    first = await open_client(stack, mesh, gateway.url)
    await publish_seq(publisher, 0, 1)
    assert seq(await first.next_event(timeout=15)) == 0
    position = first.position
    await first.close()
    await publish_seq(publisher, 1, 200)

    async def keep_publishing() -> None:
        await publish_seq(publisher, 201, 300)

    producer = asyncio.create_task(keep_publishing())
    try:
        resumed = await open_client(stack, mesh, gateway.url, since=position)
        assert resumed.welcome["recovered"] is True
        received = [seq(await resumed.next_event(timeout=30)) for _ in range(500)]
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await producer
    assert received == list(range(1, 501)), "no gap, no duplicate across replay and live"


async def test_positions_that_cannot_be_honoured_say_so(
    mesh: Mesh, publisher: Publisher, settings: NexusSettings, stack: AsyncExitStack
) -> None:
    """Each refused resume is answered ``recovered: false`` and counted by the gateway's
    ``nexus_gateway_resumes_total{recovered="false"}``, what an operator alerts on."""
    gateway = mesh.gateway()
    assert gateway.url
    url = gateway.url

    async def resumes_counted(unrecovered: int) -> bool:
        samples = await scrape_metrics(url)
        counted = (
            metric_value(samples, "nexus_gateway_resumes_total", recovered="false"),
            metric_value(samples, "nexus_gateway_resumes_total", recovered="true"),
        )
        return counted == (unrecovered, 0)

    client = await open_client(stack, mesh, gateway.url)
    await publish_seq(publisher, 0, 3)
    for _ in range(3):
        await client.next_event(timeout=15)
    position = Position.decode(client.position or "")
    await client.close()
    # Both series are there from the start, at zero: a connection without `since` is no resume.
    assert await resumes_counted(0)

    garbage = await open_client(stack, mesh, gateway.url, since="not-a-position")
    assert garbage.welcome["recovered"] is False
    # Counted just after the welcome is sent: waited for, one resume at a time.
    await eventually(lambda: resumes_counted(1), what="one unrecovered resume counted")
    other_layout = Position(
        partitions=position.partitions * 2,
        partition=position.partition,
        offset=position.offset,
        system=position.system,
    )
    relayout = await open_client(stack, mesh, gateway.url, since=other_layout.encode())
    assert relayout.welcome["recovered"] is False
    await eventually(lambda: resumes_counted(2), what="two unrecovered resumes counted")

    # Records before the position leave the log (as retention would remove them).
    partition = campaign_partition("A", settings.clients_partitions)
    await publish_seq(publisher, 3, 2)
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        topic = TopicNames(prefix=settings.topic_prefix).clients
        await admin.delete_records(
            {TopicPartition(topic, partition): RecordsToDelete(before_offset=position.offset + 1)}
        )
    finally:
        await admin.close()
    expired = await open_client(stack, mesh, gateway.url, since=position.encode())
    assert expired.welcome["recovered"] is False
    await eventually(lambda: resumes_counted(3), what="three unrecovered resumes counted")
    # Not recovered means live from now on: the next event is a new one.
    await publish_seq(publisher, 5, 1)
    assert seq(await expired.next_event(timeout=15)) == 5


async def test_a_replay_interleaves_broadcasts_where_they_happened(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """Campaign events and broadcasts live in different partitions; a client that resumes
    gets them in the order they were written (as live delivery shows them), not one
    partition's gap after the other's."""
    gateway = mesh.gateway()
    assert gateway.url
    first = await open_client(stack, mesh, gateway.url)
    position = first.position
    await first.close()
    await publish_seq(publisher, 0, 3)
    await publisher.broadcast("system.notice", {"level": "info", "text": "between"})
    await publish_seq(publisher, 3, 3)
    resumed = await open_client(stack, mesh, gateway.url, since=position)
    assert resumed.welcome["recovered"] is True
    replayed = [await resumed.next_event(timeout=15) for _ in range(7)]
    order = [e.payload["text"] if e.type == "system.notice" else seq(e) for e in replayed]
    # Record times have millisecond resolution: the broadcast may share its millisecond with
    # seq 3, published right after it, and then either may come first.
    assert order in ([0, 1, 2, "between", 3, 4, 5], [0, 1, 2, 3, "between", 4, 5])


async def test_a_reply_to_a_dropped_connection_reaches_its_resumption(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    client = await open_client(stack, mesh, gateway.url)
    old_id = client.connection_id
    position = client.position
    await client.close()
    # The reply of a request still in flight when the connection dropped.
    await publisher.publish(
        "campaign.updated",
        {"status": "reply-to-old", "updated_at": 1},
        campaign_id="A",
        user_id="u1",
        connection_id=old_id,
    )
    resumed = await stack.enter_async_context(client.resume())
    assert resumed.connection_id == old_id
    assert resumed.welcome["recovered"] is True
    assert position is not None
    assert (await resumed.next_event(timeout=15)).payload["status"] == "reply-to-old"


async def test_another_user_cannot_take_over_a_connection_id(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """Connection ids travel in events (sender attributes): they are not credentials. Once
    the victim's socket is gone no pod knows who had the id; the id itself names its owner."""
    gateway = mesh.gateway()
    assert gateway.url
    victim = await open_client(stack, mesh, gateway.url)
    victim_id = victim.connection_id
    position = victim.position
    await victim.close()
    await publisher.publish(
        "campaign.updated",
        {"status": "private-for-u1", "updated_at": 1},
        campaign_id="A",
        user_id="u1",
        connection_id=victim_id,
    )
    # Addressed by connection alone, as any producer may address it.
    await publisher.publish(
        "campaign.updated",
        {"status": "private-for-the-connection", "updated_at": 1},
        campaign_id="A",
        connection_id=victim_id,
    )
    session = await stack.enter_async_context(aiohttp.ClientSession())
    thief = await stack.enter_async_context(
        session.ws_connect(
            f"{gateway.url}/ws/A/u2",
            params={"since": position or "", "connection_id": victim_id},
            headers={"Authorization": f"Bearer {mesh.token('u2', ['A'])}"},
        )
    )
    welcome = orjson.loads((await thief.receive(timeout=15)).data)
    assert welcome["type"] == "nexus.welcome"
    assert welcome["payload"]["connection_id"] != victim_id
    await publish_seq(publisher, 0, 1)
    first = orjson.loads((await thief.receive(timeout=15)).data)
    assert first["payload"]["status"] == "seq-0", "the private reply was not delivered"


async def test_a_resume_takes_over_its_half_open_predecessor(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """The old socket still looks alive to the gateway (as after a silent network drop):
    the same user's resume replaces it, keeps its id, and gets what is addressed to it."""
    gateway = mesh.gateway()
    assert gateway.url
    old = await open_client(stack, mesh, gateway.url)
    old_id = old.connection_id
    resumed = await stack.enter_async_context(old.resume())
    assert resumed.connection_id == old_id
    assert resumed.welcome["recovered"] is True
    with contextlib.suppress(MeshClosedError):
        await old.next_event(timeout=15)
    assert old.close_code == 4009, "the predecessor is closed, not left receiving"
    # Not to be resumed: two sessions resuming one id would take it from each other forever.
    with pytest.raises(MeshClosedError) as replaced:
        await old.next_event(timeout=1)
    assert replaced.value.retriable is False

    async def counted() -> bool:
        # The gateway's code, not the client's reply to it (aiohttp answers 1000).
        samples = await scrape_metrics(gateway.url or "")
        return metric_value(samples, "nexus_gateway_connection_closes_total", code="4009") == 1

    await eventually(counted, what="the takeover counted under 4009")
    await publisher.publish(
        "campaign.updated",
        {"status": "reply-to-old-id", "updated_at": 2},
        campaign_id="A",
        user_id="u1",
        connection_id=old_id,
    )
    assert (await resumed.next_event(timeout=15)).payload["status"] == "reply-to-old-id"


async def test_a_resume_that_gives_only_its_position_keeps_its_requests(
    mesh: Mesh, stack: AsyncExitStack, tmp_path: Path
) -> None:
    """DESIGN.md section 5 resumes with ``?since=`` alone. The gateway saw one connection of
    this user leave, so that is the one resuming: it gets its id back, and with it the timeout
    of the request it had sent (no search service runs). Before, it got a new id, and the
    timeout, addressed to the old one, never reached it."""
    # Long enough for the close and the resume to end before it on a loaded machine: a
    # timeout that fires while its client is away waits for a resend.
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(schemas_with_flow_timeout(tmp_path, 8000)))
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url
    client = await open_client(stack, mesh, gateway.url)
    old_id, position = client.connection_id, client.position
    await client.emit("search", {"query": "jazz"}, event_id="asked")
    await client.close()

    async def left() -> bool:
        return await gateway_connections(admin_url) == 0

    await eventually(left, what="the dropped connection to leave the gateway")
    resumed = await open_client(stack, mesh, gateway.url, since=position)
    assert resumed.connection_id == old_id
    timeout = await resumed.next_event(timeout=15)
    assert (timeout.type, timeout.correlation_id) == ("search.timeout", "asked")


async def test_a_position_alone_cannot_choose_between_two_dropped_connections(
    mesh: Mesh, stack: AsyncExitStack
) -> None:
    """Two of the user's connections dropped: which one resumes is unknowable from a position,
    so the resume gets a new id rather than another tab's replies; naming the id still works."""
    gateway = mesh.gateway()
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url
    first = await open_client(stack, mesh, gateway.url)
    second = await open_client(stack, mesh, gateway.url)
    await first.close()
    await second.close()

    async def left() -> bool:
        return await gateway_connections(admin_url) == 0

    await eventually(left, what="both connections to leave the gateway")
    alone = await open_client(stack, mesh, gateway.url, since=second.position)
    assert alone.connection_id not in {first.connection_id, second.connection_id}
    named = await stack.enter_async_context(first.resume())
    assert named.connection_id == first.connection_id


async def test_a_position_alone_takes_no_id_while_the_user_has_a_connection_here(
    mesh: Mesh, stack: AsyncExitStack
) -> None:
    """One of the user's connections left, another is still here (a second tab, or a
    half-open socket its heartbeat has not caught yet): a position-only resume could be
    either's, so it gets a new id rather than the departed one's replies."""
    gateway = mesh.gateway()
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url
    departed = await open_client(stack, mesh, gateway.url)
    await departed.close()

    async def left() -> bool:
        return await gateway_connections(admin_url) == 0

    await eventually(left, what="the first connection to leave the gateway")
    await open_client(stack, mesh, gateway.url)  # stays connected
    resumed = await open_client(stack, mesh, gateway.url, since=departed.position)
    assert resumed.connection_id != departed.connection_id


async def test_a_request_resent_after_a_resume_gets_its_replayed_reply(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """The connection drops with a request unanswered; its reply comes while the client is
    away and is replayed first thing on resume. Resending the request (same event_id, as
    the README says) is acked as a duplicate and answered by that reply, not left waiting
    for one that already came."""
    gateway = mesh.gateway()
    assert gateway.url
    client = await open_client(stack, mesh, gateway.url)
    event_id = new_event_id()
    await client.emit("search", {"query": "jazz"}, event_id=event_id)
    await client.close()
    await publisher.publish(
        "search.completed",
        {"query": "jazz", "hits": []},
        campaign_id="A",
        user_id="u1",
        connection_id=client.connection_id,
        correlation_id=event_id,
    )
    resumed = await stack.enter_async_context(client.resume())
    welcomed_at = resumed.position

    async def replayed() -> bool:
        return resumed.position != welcomed_at

    # The app resends only once it is back up: the replay has come by then.
    await eventually(replayed, what="the reply replayed")
    reply = await resumed.request("search", {"query": "jazz"}, event_id=event_id, timeout=5)
    assert reply.type == "search.completed"
    assert reply.correlation_id == event_id


async def test_a_session_closed_for_an_expired_token_resumes_with_a_new_one(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """4001 on expiry: the client resumes with a fresh token on the same connection, and
    what was sent meanwhile is replayed."""
    gateway = mesh.gateway()
    assert gateway.url
    client = await MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"], ttl_s=2)
    )
    await stack.enter_async_context(client)
    with pytest.raises(MeshClosedError) as closed:
        await client.next_event(timeout=30)
    assert closed.value.close_code == 4001
    assert "expired" in closed.value.reason
    await publish_seq(publisher, 0, 1)
    with pytest.raises(MeshConnectError, match="4001"):
        await client.resume()  # the old token is still expired
    resumed = await stack.enter_async_context(client.resume(token=mesh.token("u1", ["A"])))
    assert resumed.connection_id == client.connection_id
    assert resumed.recovered is True
    assert seq(await resumed.next_event(timeout=15)) == 0


async def test_an_unanswered_emit_names_its_event_for_the_resend(
    mesh: Mesh, stack: AsyncExitStack, settings: NexusSettings
) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    client = await open_client(stack, mesh, gateway.url)
    with pytest.raises(MeshTimeoutError) as unanswered:
        await client.emit("chat.message", {"text": "hi"}, timeout=0)
    assert isinstance(unanswered.value, TimeoutError)
    # Resent under that id, it is written once: acked now, as new or as the duplicate.
    ack = await client.emit("chat.message", {"text": "hi"}, event_id=unanswered.value.event_id)
    assert ack.event_id == unanswered.value.event_id
    # One connection's frames are handled in turn: any first write came before this ack.
    clients = TopicNames(prefix=settings.topic_prefix).clients
    async with TopicTail(settings, clients, settings.clients_partitions) as tail:
        await eventually(tail.caught_up, what="the clients topic read to its end")
        copies = [r for r in tail.records if dict(r.headers)["ce_id"] == ack.event_id.encode()]
    assert [(r.partition, r.offset) for r in copies] == [(ack.partition, ack.offset)]
    with pytest.raises(ValueError, match="event_id 'no spaces' must be"):
        await client.emit("chat.message", {"text": "hi"}, event_id="no spaces")


async def test_a_resend_after_its_gateway_died_gets_the_original_ack_on_another(
    mesh: Mesh, stack: AsyncExitStack, settings: NexusSettings
) -> None:
    """A gateway writes an event and is killed (SIGKILL) before its client takes the ack; the
    client resumes on another gateway from its position before the event and resends it. The
    idempotency window died with the first gateway, so the resend was written a second time
    (and delivered twice). The resume's replay reads the event back: the resend gets the
    original ack, marked ``duplicate``, and Kafka holds one record."""
    g1, g2 = mesh.gateway(), mesh.gateway()
    assert g1.url and g2.url
    first = await open_client(stack, mesh, g1.url)
    since = first.position
    ack = await first.emit("chat.message", {"text": "once"})
    g1.process.kill()
    g1.process.wait()

    resumed = await open_client(stack, mesh, g2.url, since=since)
    assert resumed.welcome["recovered"] is True
    again = await resumed.emit("chat.message", {"text": "once"}, event_id=ack.event_id)
    assert again.duplicate, "the resend was written a second time"
    assert (again.partition, again.offset) == (ack.partition, ack.offset)
    # The replay still shows the event, once.
    assert (await resumed.next_event(timeout=15)).payload["text"] == "once"

    clients = TopicNames(prefix=settings.topic_prefix).clients
    async with TopicTail(settings, clients, settings.clients_partitions) as tail:
        await eventually(tail.caught_up, what="the clients topic read to its end")
        copies = [r for r in tail.records if dict(r.headers)["ce_id"] == ack.event_id.encode()]
    assert len(copies) == 1
