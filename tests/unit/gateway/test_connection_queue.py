"""A connection's queue while it replays what it missed: what counts against which bound."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from nexus_gateway.connection import Connection, Identity


def connection(max_buffer_bytes: int = 1024) -> Connection:
    ws: Any = None  # nothing here reaches the socket: no writer is started
    return Connection(
        identity=Identity(connection_id="c1", campaign_id="k", user_id="u"),
        ws=ws,
        max_buffer_bytes=max_buffer_bytes,
    )


def test_live_frames_held_behind_a_replay_are_not_the_writer_s_to_drain() -> None:
    """The replay waits for the writer to drain before reading more; the live frames held
    behind it only leave once it ends, so they must not count in what it waits for (a
    replay waiting on them waited until its timeout, and the client resumed into the same
    wait again)."""
    conn = connection()
    conn.begin_catch_up()
    for _ in range(6):
        assert conn.send(b"x" * 100, 1.0)  # live, held behind the replay
    assert conn.queued_bytes == 600  # more than half the bound, all of it held
    assert conn.outbox_bytes == 0
    assert conn.send_direct(b"r" * 50)  # a replayed frame: the writer's to drain
    assert (conn.queued_bytes, conn.outbox_bytes) == (650, 50)
    conn.end_catch_up()
    assert (conn.queued_bytes, conn.outbox_bytes) == (650, 650)


async def test_held_frames_still_count_against_the_connection_s_bound() -> None:
    conn = connection()
    conn.begin_catch_up()
    assert conn.send(b"x" * 1000)
    assert not conn.send(b"x" * 100)  # over 1024 with what is held: closed as slow (4008)
    assert conn.closing
    assert (conn.queued_bytes, conn.outbox_bytes) == (0, 0)


def test_a_connection_that_stopped_taking_refuses_every_frame_and_keeps_its_queue() -> None:
    """What a closing connection still queued goes out; anything after is refused, a
    request's timeout event included (the flow tracker then keeps it owed)."""
    conn = connection()
    assert conn.send_direct(b"ack")
    conn.stop_taking()
    assert conn.closing
    assert not conn.send_direct(b"search.timeout")
    assert not conn.send(b"live event", 1.0)
    assert conn.outbox_bytes == len(b"ack")


class _LostSocket:
    """A socket whose peer went away mid-write, as aiohttp reports it: a bare
    ``ConnectionError("Connection lost")`` raised from the reset, not the reset itself."""

    async def send_frame(self, frame: bytes, opcode: object) -> None:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as reset:
            raise ConnectionError("Connection lost") from reset


async def test_a_peer_gone_mid_write_ends_the_writer_without_an_error_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client closing on a frame it refuses (1009), or its network dropping, is ordinary:
    it was logged as an ERROR with a traceback per connection."""
    ws: Any = _LostSocket()
    conn = Connection(
        identity=Identity(connection_id="c1", campaign_id="k", user_id="u"),
        ws=ws,
        max_buffer_bytes=1024,
    )
    conn.start()
    assert conn.send(b"frame")
    writer = conn._writer
    assert writer is not None
    await asyncio.wait_for(writer, timeout=5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_events_wait_for_a_replay_once_then_no_more() -> None:
    """A resumed connection's events wait for its replay (which tells the ingress what the
    log holds), but a replay still running after one wait holds none of the later events
    back: one after another, each waiting the full bound, they outlasted clients' timeouts."""
    conn = connection()
    conn.begin_catch_up()
    assert conn.replaying
    waited = asyncio.get_running_loop().time()
    await conn.replay_done(0.05)
    assert asyncio.get_running_loop().time() - waited >= 0.05
    assert not conn.replaying, "the next event would wait again"
    conn.end_catch_up()  # the replay ending later changes nothing for them

    conn.begin_catch_up()
    finished = asyncio.create_task(conn.replay_done(30))
    conn.end_catch_up()
    await asyncio.wait_for(finished, timeout=5)  # a replay that ends releases its waiter
