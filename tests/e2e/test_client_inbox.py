"""The Python client's events inbox against a real gateway: a full inbox neither hangs an
application that answers events as it reads them, nor loses the event a close cut off.

Each test fills a small inbox (``max_queued_events=5``) with events written to Kafka first,
so they stand on the socket ahead of whatever the test then waits for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from mesh_processes import Mesh
from nexus_mesh.client import Event, MeshClient
from nexus_mesh.position import Position
from nexus_mesh.service.publisher import Publisher
from nexus_testkit import eventually

INBOX = 5
BACKLOG = 20


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def backlog(publisher: Publisher) -> list[int]:
    """``BACKLOG`` events for campaign A, written before the test reads any: their offsets."""
    offsets = []
    for n in range(BACKLOG):
        written = await publisher.publish(
            "campaign.updated", {"status": f"seq-{n}", "updated_at": n}, campaign_id="A"
        )
        offsets.append(written.offset)
    return offsets


def seq(event: Event) -> int:
    return int(event.payload["status"].removeprefix("seq-"))


async def queued_through(client: MeshClient, offset: int) -> None:
    """Wait until the client has received the event at ``offset`` (its inbox then full)."""

    async def received() -> bool:
        return client.position is not None and Position.decode(client.position).offset >= offset

    await eventually(received, what=f"the client to receive the event at offset {offset}")


async def with_full_inbox(mesh: Mesh, publisher: Publisher, user: str) -> MeshClient:
    """A client of campaign A on a new gateway whose inbox the backlog has filled (its
    reader holding the next event, the rest of the backlog on the socket behind it)."""
    gateway = mesh.gateway()
    assert gateway.url
    client = await MeshClient.connect(
        gateway.url,
        campaign_id="A",
        user_id=user,
        token=mesh.token(user, ["A"]),
        max_queued_events=INBOX,
    )
    offsets = await backlog(publisher)
    await queued_through(client, offsets[INBOX - 1])
    return client


async def test_an_emit_from_inside_the_events_loop_gets_its_ack(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """The natural bot: read an event, answer it. Its ack is behind the backlog on the
    socket; a reader that stopped at the full inbox never reached it, and the bot waited on
    itself until its timeout, then again for every resend."""
    client = await stack.enter_async_context(await with_full_inbox(mesh, publisher, "bot"))
    seen: list[int] = []
    async for event in client.events():
        if event.type == "chat.message":
            break  # the bot's own answer, after the backlog
        seen.append(seq(event))
        if len(seen) == 1:
            ack = await client.emit("chat.message", {"text": "on it"}, timeout=15)
            assert not ack.duplicate
    assert seen == list(range(BACKLOG))


async def test_a_close_never_moves_the_position_past_an_event_not_received(
    mesh: Mesh, publisher: Publisher, stack: AsyncExitStack
) -> None:
    """Closed while its reader waits on the full inbox with the next event in hand: the
    position is the last event queued, so reading the old inbox to its end and resuming from
    the position gives every event once. The position had already moved past the event in
    hand, and the resume started after it: that event was lost."""
    client = await with_full_inbox(mesh, publisher, "u1")
    await client.close()
    before = [seq(event) async for event in client.events()]
    resumed = await stack.enter_async_context(client.resume())
    after = []
    while len(before) + len(after) < BACKLOG:
        after.append(seq(await resumed.next_event(timeout=15)))
    assert before + after == list(range(BACKLOG))
