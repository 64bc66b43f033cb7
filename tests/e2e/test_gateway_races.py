"""Moments where two things happen at once on a real gateway, each forced to happen.

A timeout that fires while its connection is being closed, two resumes of one connection id,
a client that finishes joining after a drain began, a join that Kafka keeps waiting while
others join: each used to end in a client left waiting, an id it could not resume with, or a
connection left open on a draining pod.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kafka_tail import TopicTail
from mesh_processes import Mesh
from nexus_mesh.client import Event, MeshClient, MeshError
from nexus_mesh.client.frames import encode_event, parse_frame
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, gateway_connections, schemas_with_flow_timeout


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


@dataclass
class PausableMesh:
    """A mesh on the test's own broker, which the test pauses (SIGSTOP) and resumes."""

    mesh: Mesh
    settings: NexusSettings
    broker: int
    paused: bool = False

    def pause(self) -> None:
        os.kill(self.broker, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        os.kill(self.broker, signal.SIGCONT)
        self.paused = False


@asynccontextmanager
async def pausable_mesh(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path, prefix: str
) -> AsyncIterator[PausableMesh]:
    """Topics ``prefix.*`` on the test's own broker; the broker runs again and every process
    is stopped at the end, whatever the test left behind."""
    cluster, bootstrap = own_kafka
    settings = NexusSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    await ensure_topics(settings, load_registry(settings.schemas_dir).domains)
    broker = cluster.status().nodes[0].pid
    assert broker is not None
    env = PausableMesh(Mesh(bootstrap=bootstrap, prefix=prefix, workdir=tmp_path), settings, broker)
    try:
        yield env
    finally:
        if env.paused:
            env.resume()
        env.mesh.close()


async def metric(url: str, name: str) -> float:
    """The sum of a gateway metric's samples (all labels)."""

    def get() -> str:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(get)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


async def stats(admin_url: str, key: str) -> Any:
    """One value of a gateway's admin ``/stats``."""

    def get() -> Any:
        with urllib.request.urlopen(admin_url + "/stats", timeout=5) as response:
            return orjson.loads(response.read())[key]

    return await asyncio.to_thread(get)


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 15) -> Event:
    message = await ws.receive(timeout=timeout)
    assert message.type is aiohttp.WSMsgType.TEXT, (message.type, message.data, message.extra)
    return parse_frame(message.data)


async def test_a_timeout_that_fired_while_its_client_was_cut_off_is_owed_after_the_resume(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack, tmp_path: Path
) -> None:
    """No search service runs. The client stops reading, so the gateway closes it as slow
    (4008), and the request's timeout fires while the client is away. The client resumes and
    resends the request (same event_id): it must get its timeout after a new wait. A gateway
    that took the timeout it could not deliver for delivered acked the resend as a duplicate
    and never answered. (A connection still registered but closing refuses the timeout's
    frame like any other, tests/unit/gateway/test_connection_queue.py; the tracker keeps a
    refused timeout owed, tests/unit/gateway/test_flows.py.)"""
    # Long enough for the 4008 (about a second after the flood starts, 8 s at most) and the
    # connection's leaving to come first, with room to spare on a busy machine.
    timeout_ms = 15000
    schemas = schemas_with_flow_timeout(tmp_path, timeout_ms)
    gateway = mesh.gateway(
        NEXUS_SCHEMAS_DIR=str(schemas), NEXUS_GATEWAY_CLIENT_BUFFER_BYTES=str(512 * 1024)
    )
    assert gateway.url and gateway.admin_url
    url, token = gateway.url, mesh.token("slow", ["A"])
    session = await stack.enter_async_context(aiohttp.ClientSession())
    stalled = await session.ws_connect(
        f"{url}/ws/A/slow", headers={"Authorization": f"Bearer {token}"}, max_msg_size=0
    )
    welcome = await receive(stalled)
    connection_id = welcome.payload["connection_id"]
    position = welcome.payload["position"]
    await stalled.send_str(encode_event("search", {"query": "jazz"}, event_id="req-1").decode())
    ack = await receive(stalled)
    assert (ack.type, ack.payload["event_id"]) == ("nexus.ack", "req-1"), ack.payload

    # From here the client reads nothing: the campaign's events fill the socket, then the
    # connection's outbox, and the gateway gives up on it as slow.
    blob = "x" * 32_000

    async def flood() -> None:
        while True:
            await asyncio.gather(
                *(
                    publisher.publish(
                        "campaign.updated",
                        {"status": "fill", "changes": {"blob": blob}, "updated_at": n},
                        campaign_id="A",
                    )
                    for n in range(50)
                )
            )

    async def closed_as_slow() -> bool:
        return await metric(url, "nexus_gateway_slow_consumer_closes_total") >= 1

    filler = asyncio.create_task(flood())
    try:
        await eventually(closed_as_slow, timeout=8, what="the 4008 close")
    finally:
        filler.cancel()
        await asyncio.gather(filler, return_exceptions=True)

    async def gone() -> bool:
        return await gateway_connections(gateway.admin_url or "") == 0

    await eventually(gone, what="the stalled connection to leave")
    assert await stats(gateway.admin_url, "pending_requests") == 1, "fired before it left"

    async def fired() -> bool:
        return await stats(gateway.admin_url or "", "pending_requests") == 0

    await eventually(
        fired, timeout=timeout_ms / 1000 + 15, what="the request's timeout to fire while away"
    )
    await stalled.close()

    resumed = await stack.enter_async_context(
        session.ws_connect(
            f"{url}/ws/A/slow",
            params={"since": position, "connection_id": connection_id},
            headers={"Authorization": f"Bearer {token}"},
            max_msg_size=0,
        )
    )
    rewelcome = await receive(resumed)
    assert rewelcome.payload["connection_id"] == connection_id
    assert rewelcome.payload["recovered"] is True
    await resumed.send_str(encode_event("search", {"query": "jazz"}, event_id="req-1").decode())
    deadline = time.monotonic() + timeout_ms / 1000 + 20
    seen: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        try:
            frame = await receive(resumed, timeout=max(0.0, remaining))
        except TimeoutError:
            pytest.fail(f"the resent request was never answered; frames after it: {seen[-5:]}")
        seen.append(frame.type)
        if frame.type == "nexus.ack":
            assert frame.payload["duplicate"] is True
        if frame.type == "search.timeout":
            assert frame.correlation_id == "req-1"
            break


async def test_the_loser_of_two_racing_resumes_gets_an_id_it_can_resume_with(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """Two resumes of one connection id pass the handshake together: one keeps the id, the
    other gets a fresh one. That fresh id must be the user's like any other, so that a drop
    and a resume keep it (and the replies addressed to it); an id without its owner tag was
    refused on resume and replaced."""
    gateway = mesh.gateway()
    assert gateway.url
    token = mesh.token("u1", ["A"])
    first = await MeshClient.connect(gateway.url, campaign_id="A", user_id="u1", token=token)
    original = first.connection_id
    await first.close()
    # Something to replay, so each resume checks Kafka before it registers.
    await publisher.publish("campaign.updated", {"status": "s", "updated_at": 1}, campaign_id="A")

    for _attempt in range(5):
        pair = await asyncio.gather(first.resume(), first.resume())
        for client in pair:
            stack.push_async_callback(client.close)
        ids = {client.connection_id for client in pair}
        if len(ids) == 2 and not any(client.closed for client in pair):
            break
        # The second resume came after the first had registered and took it over (a
        # sequential resume, not the race): try again.
        for client in pair:
            await client.close()
    else:
        pytest.fail("five attempts never had two resumes race")

    assert original in ids
    loser = next(client for client in pair if client.connection_id != original)
    fresh = loser.connection_id
    await publisher.publish(
        "campaign.updated",
        {"status": "for-the-loser", "updated_at": 2},
        campaign_id="A",
        connection_id=fresh,
    )
    await loser.close()
    again = await stack.enter_async_context(loser.resume())
    assert again.connection_id == fresh, "the fresh id was not resumable"
    # The reply addressed to the fresh id, written while it was away, reaches it.
    while (await again.next_event(timeout=15)).payload["status"] != "for-the-loser":
        pass


async def test_a_connection_that_joins_as_the_drain_begins_leaves_with_1001(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """The broker is paused (SIGSTOP) while a client's join waits on Kafka for its partition's
    end offset; the gateway starts draining meanwhile (POST /drain), and only then does the
    broker go on. The drain listed its connections before this one registered, so it must
    close itself: welcome, then 1001 with the drain's reason, promptly. A late joiner used
    to stay connected to the draining pod, and a second close could drop it before its 1001
    frame left."""
    async with pausable_mesh(own_kafka, tmp_path, "drain") as env:
        mesh = env.mesh
        gateway = mesh.gateway(NEXUS_GATEWAY_DRAIN_TIMEOUT_S="10")
        assert gateway.url and gateway.admin_url
        async with aiohttp.ClientSession() as session:
            env.pause()
            joining = await session.ws_connect(
                f"{gateway.url}/ws/A/late",
                headers={"Authorization": f"Bearer {mesh.token('late', ['A'])}"},
            )
            drain = urllib.request.Request(gateway.admin_url + "/drain", method="POST")
            status = await asyncio.to_thread(lambda: urllib.request.urlopen(drain, timeout=5))
            assert status.status == 202

            async def drain_done() -> bool:
                return "drained in" in gateway.log()

            await eventually(drain_done, what="the drain to finish with the broker paused")
            env.resume()
            resumed_at = time.monotonic()
            frames: list[Any] = []
            while True:
                try:
                    message = await joining.receive(timeout=15)
                except TimeoutError:
                    pytest.fail(f"the late joiner is still connected to a drained pod: {frames}")
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                frames.append(orjson.loads(message.data)["type"])
            waited = time.monotonic() - resumed_at
            assert frames == ["nexus.welcome"]
            assert joining.close_code == 1001, (joining.close_code, message)
            assert "draining" in (message.extra or "")
            assert waited < 15, f"the late joiner was closed {waited:.1f} s after the join"
        assert gateway.process.poll() is None, "a drain via /drain keeps the process up"


async def test_a_draining_pod_answers_a_resend_of_what_it_wrote(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """While a drain waits for a write Kafka holds up (the broker paused), a resend of an
    event the pod already wrote gets its ack back, marked duplicate; a new event is refused
    ``unavailable``. The resend was refused ``unavailable`` too, which says "not written":
    the client then resent it to another pod, which wrote it a second time."""
    async with pausable_mesh(own_kafka, tmp_path, "drainresend") as env:
        mesh = env.mesh
        gateway = mesh.gateway(NEXUS_GATEWAY_DRAIN_TIMEOUT_S="20")
        assert gateway.url and gateway.admin_url
        token = mesh.token("u1", ["A"])
        async with (
            MeshClient.connect(gateway.url, campaign_id="A", user_id="u1", token=token) as one,
            MeshClient.connect(gateway.url, campaign_id="A", user_id="u1", token=token) as two,
        ):
            first = await one.emit("chat.message", {"text": "once"}, event_id="resent-1")
            env.pause()
            # A search's wait is registered before its write: once /stats counts it, the
            # write is in flight and holds the drain up.
            held = asyncio.create_task(two.emit("search", {"query": "held"}))

            async def write_in_flight() -> bool:
                return bool(await stats(gateway.admin_url, "pending_requests") == 1)

            await eventually(write_in_flight, what="the search's write to be in flight")
            drain = urllib.request.Request(gateway.admin_url + "/drain", method="POST")
            status = await asyncio.to_thread(lambda: urllib.request.urlopen(drain, timeout=5))
            assert status.status == 202
            assert await stats(gateway.admin_url, "draining") is True
            again = await one.emit("chat.message", {"text": "once"}, event_id="resent-1")
            with pytest.raises(MeshError) as refused:
                await one.emit("chat.message", {"text": "new"}, event_id="new-1")
            env.resume()
            await asyncio.gather(held, return_exceptions=True)
        assert again.duplicate and (again.partition, again.offset) == (
            first.partition,
            first.offset,
        )
        assert refused.value.code == "unavailable" and "draining" in refused.value.message


async def test_a_join_kept_waiting_by_kafka_holds_up_no_other_join(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """With the broker paused (SIGSTOP), a client joining a campaign whose partition this pod
    does not read yet waits for Kafka (its partition's end offset); a client joining a
    campaign whose partition it reads already needs nothing from Kafka and is welcomed at
    once. It used to wait behind the first join, up to Kafka's request timeout."""
    async with pausable_mesh(own_kafka, tmp_path, "joins") as env:
        mesh = env.mesh
        partitions = env.settings.clients_partitions
        other = next(
            f"B{i}"
            for i in range(100)
            if campaign_partition(f"B{i}", partitions) != campaign_partition("A", partitions)
        )
        gateway = mesh.gateway(NEXUS_KAFKA_REQUEST_TIMEOUT_MS="20000")
        assert gateway.url

        async def connect(session: aiohttp.ClientSession, campaign: str, user: str) -> Any:
            return await session.ws_connect(
                f"{gateway.url}/ws/{campaign}/{user}",
                headers={"Authorization": f"Bearer {mesh.token(user, [campaign])}"},
            )

        async def welcome(ws: Any, timeout: float) -> str:
            message = await ws.receive(timeout=timeout)
            return str(orjson.loads(message.data)["type"])

        async with aiohttp.ClientSession() as session:
            first = await connect(session, "A", "first")
            assert await welcome(first, 15) == "nexus.welcome"
            env.pause()
            # Answered at the handshake, before the join; the join then waits on Kafka.
            waiting = await connect(session, other, "waiting")
            began = time.monotonic()
            second = await connect(session, "A", "second")
            assert await welcome(second, 10) == "nexus.welcome"
            took = time.monotonic() - began
            with pytest.raises(TimeoutError):
                await waiting.receive(timeout=0.1)  # still waiting: Kafka is paused
            env.resume()
            assert await welcome(waiting, 30) == "nexus.welcome"
        assert took < 5, f"a join needing nothing from Kafka waited {took:.1f} s"


async def test_a_join_kafka_cannot_answer_is_closed_with_its_reason(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """A join that Kafka does not answer within its request timeout (the broker paused) ends
    in 1001 with a reason saying so, not a bare "bye": the client is to reconnect."""
    async with pausable_mesh(own_kafka, tmp_path, "nojoin") as env:
        mesh = env.mesh
        gateway = mesh.gateway(NEXUS_KAFKA_REQUEST_TIMEOUT_MS="2000")
        assert gateway.url
        async with aiohttp.ClientSession() as session:
            env.pause()
            ws = await session.ws_connect(
                f"{gateway.url}/ws/A/u1",
                headers={"Authorization": f"Bearer {mesh.token('u1', ['A'])}"},
            )
            message = await ws.receive(timeout=30)
        assert message.type is aiohttp.WSMsgType.CLOSE, message
        assert ws.close_code == 1001
        assert "Kafka unavailable" in (message.extra or ""), message.extra


async def test_a_draining_pod_keeps_the_socket_open_until_an_unconfirmed_write_settles(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    """The broker stops answering; an emit is answered ``unconfirmed`` (it may still land)
    and the pod is told to stop. Only this pod can tell the client whether the write landed:
    the drain keeps the socket open until Kafka settles it, so the client's resend of the
    same event_id gets the original ack (``duplicate``), and the campaign gets one record.
    The drain used to close at once (1001): the resend went to the next pod, which wrote a
    second record."""
    async with pausable_mesh(own_kafka, tmp_path, "settle") as env:
        mesh = env.mesh
        gateway = mesh.gateway(
            # The resend waits up to the produce timeout for the first write: time enough
            # for the test to see it held and for the resumed broker to settle that write.
            NEXUS_GATEWAY_PRODUCE_TIMEOUT_S="8",
            NEXUS_GATEWAY_DRAIN_TIMEOUT_S="40",
        )
        assert gateway.url and gateway.admin_url
        admin = gateway.admin_url
        token = mesh.token("u1", ["A"])
        async with MeshClient.connect(gateway.url, campaign_id="A", user_id="u1", token=token) as c:
            await c.emit("chat.message", {"text": "before"})  # the topic's metadata known
            env.pause()
            with pytest.raises(MeshError) as caught:
                await c.emit("chat.message", {"text": "in doubt"}, timeout=30)
            assert caught.value.code == "unconfirmed"
            event_id = caught.value.event_id
            assert event_id is not None
            gateway.process.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                return "draining 1 connection(s)" in gateway.log()

            await eventually(draining, what="the drain to begin")
            resend = asyncio.create_task(
                c.emit("chat.message", {"text": "in doubt"}, event_id=event_id, timeout=30)
            )

            async def resend_waits() -> bool:
                return int(await stats(admin, "events_in_flight")) == 1

            # The resend waits on the first write, which Kafka settles once it runs again.
            await eventually(resend_waits, what="the gateway to hold the resend")
            assert await stats(admin, "unconfirmed_writes") == 1
            env.resume()
            ack = await resend
            assert ack.duplicate, "the resend was written again"
        assert await asyncio.to_thread(gateway.process.wait, 60) == 0

        async with TopicTail(env.settings, TopicNames(prefix="settle").clients, 12) as tail:

            async def landed() -> bool:
                return any(dict(r.headers)["ce_id"].decode() == event_id for r in tail.records)

            await eventually(landed, what="the in-doubt write in Kafka")
            copies = [r for r in tail.records if dict(r.headers)["ce_id"].decode() == event_id]
            assert len(copies) == 1
