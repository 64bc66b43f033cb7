"""A connection's events are handled side by side and written in the order sent.

Each event used to wait for the acks of the one before it: in a broker outage a burst of three
was answered one produce timeout apart (10, 20, 30 s with the defaults), so a client timing
its emits on ``NEXUS_GATEWAY_PRODUCE_TIMEOUT_S`` gave up on all but the first.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson

from mesh_processes import Mesh
from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings


async def answers(ws: aiohttp.ClientWebSocketResponse, count: int, timeout: float) -> list[dict]:
    """The next ``count`` acks and errors, each with the seconds it took from now."""
    began = time.monotonic()
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while len(seen) < count:
            frame = orjson.loads((await ws.receive()).data)
            if frame["type"] in ("nexus.ack", "nexus.error"):
                seen.append({**frame["payload"], "after": time.monotonic() - began})
    return seen


def chat(event_id: str) -> str:
    return orjson.dumps(
        {"type": "chat.message", "payload": {"text": event_id}, "metadata": {"event_id": event_id}}
    ).decode()


async def welcomed(ws: aiohttp.ClientWebSocketResponse) -> None:
    frame = orjson.loads((await ws.receive(timeout=30)).data)
    assert frame["type"] == "nexus.welcome"


async def test_a_burst_in_an_outage_is_answered_within_one_produce_timeout(
    own_kafka: tuple[LocalKafka, str], tmp_path: Path
) -> None:
    cluster, bootstrap = own_kafka
    settings = NexusSettings(kafka_bootstrap_servers=bootstrap, topic_prefix="burst")
    await ensure_topics(settings, load_registry(settings.schemas_dir).domains)
    mesh = Mesh(bootstrap=bootstrap, prefix="burst", workdir=tmp_path)
    try:
        gateway = mesh.gateway(NEXUS_GATEWAY_PRODUCE_TIMEOUT_S="3")
        headers = {"Authorization": f"Bearer {mesh.token('u1', ['A'])}"}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{gateway.url}/ws/A/u1", headers=headers) as ws,
        ):
            await welcomed(ws)
            await ws.send_str(chat("before"))  # the topic's metadata is known
            assert [a.get("code") for a in await answers(ws, 1, 30)] == [None]
            await asyncio.to_thread(cluster.stop)
            for n in range(3):
                await ws.send_str(chat(f"burst-{n}"))
            burst = await answers(ws, 3, 30)
        assert sorted(a["event_id"] for a in burst) == ["burst-0", "burst-1", "burst-2"]
        assert {a["code"] for a in burst} == {"unconfirmed"}
        # One produce timeout (3 s) for all three, not one each (3, 6 and 9 s).
        assert max(a["after"] for a in burst) < 5.5, burst
    finally:
        mesh.close()


async def test_a_connection_s_events_are_written_in_the_order_sent(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    headers = {"Authorization": f"Bearer {mesh.token('u1', ['A'])}"}
    sent = [f"order-{n}" for n in range(40)]
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{gateway.url}/ws/A/u1", headers=headers) as ws,
    ):
        await welcomed(ws)
        for event_id in sent:
            await ws.send_str(chat(event_id))
        acks = await answers(ws, len(sent), 60)
    offsets = {a["event_id"]: a["offset"] for a in acks}
    assert sorted(offsets) == sorted(sent), acks
    assert [offsets[event_id] for event_id in sent] == sorted(offsets.values())
