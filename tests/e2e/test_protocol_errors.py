"""Every refusal of DESIGN.md section 5, answered once, with the connection still serving and
nothing refused written to Kafka (asserted on the topics' contents)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
import pytest

from kafka_tail import TopicTail
from mesh_processes import Mesh
from nexus_mesh.client import Event, MeshClient, MeshClosedError, MeshError
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, metric_value, scrape_metrics


@pytest.fixture
async def client(mesh: Mesh) -> AsyncIterator[MeshClient]:
    gateway = mesh.gateway(
        NEXUS_GATEWAY_MAX_EVENT_BYTES="4096",
        NEXUS_GATEWAY_MAX_FRAME_BYTES="65536",
        NEXUS_GATEWAY_RATE_PER_S="0.5",
        NEXUS_GATEWAY_RATE_BURST="40",
    )
    assert gateway.url
    async with await MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as connected:
        yield connected


async def answer_to_raw(client: MeshClient, frame: Any) -> Event:
    await client.send_raw(frame if isinstance(frame, str | bytes) else orjson.dumps(frame).decode())
    return await client.next_protocol_frame(timeout=10)


async def still_serving(client: MeshClient, accepted: list[str]) -> None:
    ack = await client.emit("chat.message", {"text": "still here"})
    accepted.append(ack.event_id)


async def test_each_refusal_has_its_code_and_leaves_the_connection_working(
    client: MeshClient, settings: NexusSettings
) -> None:
    topics = TopicNames(prefix=settings.topic_prefix)
    accepted: list[str] = []
    refused: list[str] = []

    def rid() -> str:
        refused.append(uuid.uuid4().hex)
        return refused[-1]

    cases: list[tuple[Any, str]] = [
        ("{not json", "bad_frame"),
        # A text frame that is not UTF-8: an answer, not a 1007 close of the connection.
        (b'{"type": "chat.message", "payload": {"text": "\xff\xfe"}}', "bad_frame"),
        (b"\xc3\x28", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ({"payload": {}}, "bad_frame"),
        # Refused before it is read as an event, yet naming its id: the answer names it too.
        ({"payload": {}, "metadata": {"event_id": rid()}}, "bad_frame"),
        (
            {
                "type": "chat.message",
                "payload": {"text": "x"},
                "metadata": {"event_id": rid()},
                "extra": 1,
            },
            "bad_frame",
        ),
        (
            {"type": "chat.message", "payload": {"text": "x"}, "metadata": {"event_id": "bad id!"}},
            "bad_frame",
        ),
        (
            {
                "type": "chat.message",
                "payload": {"text": "x"},
                "metadata": {"event_id": rid(), "attributes": {"nexus.sender_user_id": "forged"}},
            },
            "bad_frame",
        ),
        (
            {
                "type": "chat.message",
                "payload": {"text": "x" * 5000},
                "metadata": {"event_id": rid()},
            },
            "too_large",
        ),
        (
            {"type": "teleport.requested", "payload": {}, "metadata": {"event_id": rid()}},
            "unknown_type",
        ),
        (
            {
                "type": "campaign.updated",
                "payload": {"updated_at": 1},
                "metadata": {"event_id": rid()},
            },
            "forbidden_type",
        ),
        ({"type": "nexus.ack", "payload": {}, "metadata": {"event_id": rid()}}, "forbidden_type"),
        (
            {"type": "search", "payload": {"query": 42}, "metadata": {"event_id": rid()}},
            "schema_invalid",
        ),
        (
            {"type": "chat.message", "payload": {}, "metadata": {"event_id": rid()}},
            "schema_invalid",
        ),
    ]
    for frame, code in cases:
        answer = await answer_to_raw(client, frame)
        assert answer.type == "nexus.error", (frame, answer)
        assert answer.payload["code"] == code, (frame, answer.payload)
        assert answer.payload["retryable"] is False
        assert answer.payload["message"]
        sent_id = frame.get("metadata", {}).get("event_id") if isinstance(frame, dict) else None
        if sent_id in refused:
            assert answer.payload["event_id"] == frame["metadata"]["event_id"]
        await still_serving(client, accepted)

    schema_answer = await answer_to_raw(
        client, {"type": "search", "payload": {"query": 42}, "metadata": {"event_id": rid()}}
    )
    assert "payload.query" in schema_answer.payload["message"]
    await client.send_raw(b"\x00\x01binary", binary=True)
    binary_answer = await client.next_protocol_frame(timeout=10)
    assert binary_answer.payload["code"] == "bad_frame"
    binary_id = rid()
    await client.send_raw(
        orjson.dumps(
            {"type": "chat.message", "payload": {"text": "x"}, "metadata": {"event_id": binary_id}}
        ),
        binary=True,
    )
    binary_event_answer = await client.next_protocol_frame(timeout=10)
    assert binary_event_answer.payload["code"] == "bad_frame"
    assert binary_event_answer.payload["event_id"] == binary_id

    # The rate limit: the burst is spent, so events are refused as retryable.
    limited: list[MeshError] = []
    for _ in range(50):
        try:
            ack = await client.emit("chat.message", {"text": "burst"}, event_id=rid())
            refused.remove(ack.event_id)
            accepted.append(ack.event_id)
        except MeshError as error:
            limited.append(error)
    assert limited and all(e.code == "rate_limited" and e.retryable for e in limited)
    # At 0.5 events per second the next one is at most 2 s away.
    assert all(e.retry_after is not None and 0 < e.retry_after <= 2.0 for e in limited)

    async with (
        TopicTail(settings, topics.clients, settings.clients_partitions) as clients,
        TopicTail(settings, topics.domain("search"), settings.domain_partitions) as search,
    ):

        async def all_accepted_arrived() -> bool:
            ids = {dict(r.headers)["ce_id"].decode() for r in clients.records}
            return set(accepted) <= ids

        await eventually(all_accepted_arrived, what="every acked event in Kafka")
        # Nothing accepted goes to the search topic: without reading it to its end, a
        # refused search that leaked could still be on its way.
        await eventually(search.caught_up, what="the search topic read to its end")
        await eventually(clients.caught_up, what="the clients topic read to its end")
        written = {dict(r.headers)["ce_id"].decode() for r in clients.records + search.records}
        assert not written & set(refused), "a refused event reached Kafka"
        assert len(clients.records) == len(accepted), "one record per acked event, no more"


async def test_frame_above_the_hard_limit_closes_with_1009(mesh: Mesh) -> None:
    gateway = mesh.gateway(NEXUS_GATEWAY_MAX_FRAME_BYTES="65536")
    assert gateway.url
    async with AsyncExitStack() as stack:
        other = await stack.enter_async_context(
            await MeshClient.connect(
                gateway.url, campaign_id="A", user_id="u2", token=mesh.token("u2", ["A"])
            )
        )
        client = await stack.enter_async_context(
            await MeshClient.connect(
                gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
            )
        )
        await client.send_raw("x" * 70_000)
        with pytest.raises(MeshClosedError):
            await client.next_event(timeout=10)
        assert client.close_code == 1009
        ack = await other.emit("chat.message", {"text": "others unaffected"})
        assert ack.offset >= 0
        # The operator sees it too: counted by close code, and logged with the connection.
        await eventually(lambda: closed_with(gateway.url, "1009"), what="the 1009 close counted")
        assert f"connection {client.connection_id} closed with 1009" in gateway.log()


async def closed_with(url: str | None, code: str) -> bool:
    assert url
    closes = "nexus_gateway_connection_closes_total"
    return metric_value(await scrape_metrics(url), closes, code=code) == 1


async def test_resent_event_id_gets_the_original_ack_and_one_record(
    mesh: Mesh, settings: NexusSettings
) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    event_id = uuid.uuid4().hex
    async with await MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as client:
        first = await client.emit("chat.message", {"text": "once"}, event_id=event_id)
    # A reconnect that lost the ack resends the same event.
    async with await MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as client:
        again = await client.emit("chat.message", {"text": "once"}, event_id=event_id)
    assert not first.duplicate
    assert again.duplicate
    assert (again.topic, again.partition, again.offset) == (
        first.topic,
        first.partition,
        first.offset,
    )
    topics = TopicNames(prefix=settings.topic_prefix)
    async with TopicTail(settings, topics.clients, settings.clients_partitions) as tail:

        async def arrived() -> bool:
            return bool(tail.with_header("ce_id", event_id))

        await eventually(arrived, what="the event in Kafka")
        # Everything up to the first record's offset has been read; no second copy follows it.
        marker = await _emit_marker(mesh, gateway.url)
        await eventually(
            lambda: _has(tail, marker), what="a later record, proving the tail is past the resend"
        )
        assert len(tail.with_header("ce_id", event_id)) == 1


async def _emit_marker(mesh: Mesh, url: str) -> str:
    async with await MeshClient.connect(
        url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as client:
        return (await client.emit("chat.message", {"text": "marker"})).event_id


async def _has(tail: TopicTail, event_id: str) -> bool:
    return bool(tail.with_header("ce_id", event_id))


async def test_binary_frames_count_against_the_rate_limit(client: MeshClient) -> None:
    """Each refused frame still costs an answer: a flood of binary frames is limited too."""
    codes = []
    named = orjson.dumps({"type": "chat.message", "metadata": {"event_id": "bin-1"}})
    for _ in range(45):  # the fixture's burst is 40
        await client.send_raw(named, binary=True)
        answer = (await client.next_protocol_frame(timeout=10)).payload
        codes.append(answer["code"])
        # Refused either way, the answer names the event the frame claimed to be.
        assert answer["event_id"] == "bin-1"
    assert set(codes) == {"bad_frame", "rate_limited"}
    assert codes.index("rate_limited") > 0


async def test_a_rate_limited_event_resent_after_retry_after_is_accepted(mesh: Mesh) -> None:
    """``retry_after_ms`` is a promise: the same event resent once it has passed is written,
    where resending at once is refused again."""
    gateway = mesh.gateway(NEXUS_GATEWAY_RATE_PER_S="2", NEXUS_GATEWAY_RATE_BURST="1")
    assert gateway.url
    async with await MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as client:
        await client.emit("chat.message", {"text": "the burst"})
        with pytest.raises(MeshError) as limited:
            await client.emit("chat.message", {"text": "too soon"}, event_id="late-1")
        wait = limited.value.retry_after
        assert wait is not None and 0 < wait <= 0.5, "one event per 0.5 s at 2 per second"
        assert f"retry in {round(wait * 1000)} ms" in limited.value.message
        # Waiting is what is under test here: the wait the gateway named, and no longer.
        await asyncio.sleep(wait)
        ack = await client.emit("chat.message", {"text": "too soon"}, event_id="late-1")
        assert ack.event_id == "late-1" and not ack.duplicate


async def test_the_rate_limit_is_the_user_s_across_connections(mesh: Mesh) -> None:
    """A second connection, or a reconnect, does not buy a user a fresh burst; another
    user of the campaign keeps their own."""
    gateway = mesh.gateway(NEXUS_GATEWAY_RATE_PER_S="0.01", NEXUS_GATEWAY_RATE_BURST="3")
    assert gateway.url
    url = gateway.url

    async def connected(user: str) -> MeshClient:
        return await MeshClient.connect(
            url, campaign_id="A", user_id=user, token=mesh.token(user, ["A"])
        )

    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(await connected("u1"))
        second = await stack.enter_async_context(await connected("u1"))
        for client in (first, second, first):
            await client.emit("chat.message", {"text": "within the burst"})
        with pytest.raises(MeshError) as limited:
            await second.emit("chat.message", {"text": "one too many"})
        assert limited.value.code == "rate_limited"
        await first.close()
        await second.close()
        back = await stack.enter_async_context(await connected("u1"))
        with pytest.raises(MeshError, match="rate_limited"):
            await back.emit("chat.message", {"text": "after a reconnect"})
        other = await stack.enter_async_context(await connected("u2"))
        await other.emit("chat.message", {"text": "someone else"})
