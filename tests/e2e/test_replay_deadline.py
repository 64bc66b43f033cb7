"""A resume storm beyond a pod's replay capacity (NEXUS_GATEWAY_REPLAY_TIMEOUT_S,
NEXUS_GATEWAY_REPLAY_SLOTS): a replay that cannot finish in time is counted by reason, logged
with that reason, and its client is closed with 1001 saying why, to resume again."""

from __future__ import annotations

import aiohttp
from aiohttp import WSMsgType

from mesh_processes import Mesh
from nexus_mesh.client import MeshClient
from nexus_mesh.service.publisher import Publisher
from nexus_testkit import eventually, metric_value, scrape_metrics, write_big_gap

TIMEOUT_S = 4


async def test_a_replay_that_cannot_finish_in_time_is_counted_and_closed_with_its_reason(
    mesh: Mesh, publisher: Publisher
) -> None:
    """One slot. Two resumes of campaign A that read nothing of their ~16 MB replay hold it
    in turn, each until its replay deadline (counted from the slot); alice's resume of
    campaign B queued behind them gets no slot within the timeout: she is welcomed
    recovered, then closed with 1001 naming why, and her next resume is served."""
    gateway = mesh.gateway(
        NEXUS_GATEWAY_CLIENT_BUFFER_BYTES=str(512 * 1024),
        NEXUS_GATEWAY_REPLAY_SLOTS="1",
        NEXUS_GATEWAY_REPLAY_STALL_S="120",
        NEXUS_GATEWAY_REPLAY_TIMEOUT_S=str(TIMEOUT_S),
    )
    assert gateway.url and gateway.admin_url
    url, admin_url = gateway.url, gateway.admin_url
    tokens = {user: mesh.token(user, ["A"]) for user in ("hog1", "hog2")}
    alice = mesh.token("alice", ["B"])
    async with MeshClient.connect(url, campaign_id="A", user_id="hog1", token=tokens["hog1"]) as c:
        a_since = c.welcome["position"]
    async with MeshClient.connect(url, campaign_id="B", user_id="alice", token=alice) as c:
        alice_since = c.welcome["position"]
    await write_big_gap(publisher)

    async def replays(running: int, waiting: int) -> bool:
        samples = await scrape_metrics(admin_url)
        return (
            metric_value(samples, "nexus_gateway_replays", state="running"),
            metric_value(samples, "nexus_gateway_replays", state="waiting"),
        ) == (running, waiting)

    async def unfinished(reason: str) -> float:
        samples = await scrape_metrics(admin_url)
        value = metric_value(samples, "nexus_gateway_replays_unfinished_total", reason=reason)
        assert value is not None, "the counter starts at 0 for every reason"
        return value

    async with aiohttp.ClientSession() as session:
        stalled = []
        for user, (running, waiting) in zip(("hog1", "hog2"), ((1, 0), (1, 1)), strict=True):
            stalled.append(  # kept open, never read
                await session.ws_connect(
                    f"{url}/ws/A/{user}?since={a_since}",
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                    max_msg_size=0,
                )
            )
            await eventually(
                lambda r=running, w=waiting: replays(r, w), what=f"{user}'s replay queued"
            )
        assert await unfinished("slot_timeout") == 0
        async with session.ws_connect(
            f"{url}/ws/B/alice?since={alice_since}",
            headers={"Authorization": f"Bearer {alice}"},
        ) as queued:
            welcome = await queued.receive_json(timeout=10)
            assert welcome["type"] == "nexus.welcome"
            assert welcome["payload"]["recovered"] is True
            # Then nothing until her replay gets no slot in time: hog1's replay gives the slot
            # up at its deadline, hog2 (queued first) takes it and holds it past alice's.
            closing = await queued.receive(timeout=3 * TIMEOUT_S + 20)
        assert closing.type is WSMsgType.CLOSE, closing
        assert closing.data == 1001
        assert closing.extra == "resume interrupted (no replay slot in time): reconnect and resume"
        assert await unfinished("slot_timeout") == 1

        async def replay_timed_out() -> bool:
            return await unfinished("replay_timeout") >= 1

        await eventually(replay_timed_out, what="hog1's replay to time out")
        for ws in stalled:
            await ws.close()
    await eventually(lambda: replays(0, 0), what="the replays to end with their connections")

    log = gateway.log()
    assert (
        "did not finish (slot_timeout): timed out after 4 s waiting for a replay slot "
        "(1 waiting, all 1 slots busy); closing it with 1001 to resume again"
    ) in log
    assert "did not finish (replay_timeout): timed out after 4 s replaying a gap of " in log

    # Her next resume, with the slot free, is served from where she was.
    async with MeshClient.connect(
        url, campaign_id="B", user_id="alice", token=alice, since=alice_since
    ) as back:
        assert back.welcome["recovered"] is True
        assert (await back.next_event(timeout=30)).payload["status"] == "for alice"
    assert await unfinished("kafka_error") == 0
    assert await unfinished("failed") == 0
