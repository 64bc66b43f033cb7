"""One client connection: identity, and a bounded outbox drained by its own writer task.

Fan-out never awaits a client: it appends the shared frame bytes to each target's outbox and
moves on. A client that stops reading fills only its own outbox; past ``max_buffer_bytes`` it
is closed with 4008 and resumes from its last position, so it loses nothing and slows no one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from nexus_gateway.protocol import CloseCode
from nexus_mesh.tasks import cancel_and_wait, run_detached

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    connection_id: str
    campaign_id: str
    user_id: str


class Connection:
    __slots__ = (
        "_abort",
        "_catching_up",
        "_closed",
        "_closing",
        "_held",
        "_held_bytes",
        "_on_slow",
        "_on_written",
        "_outbox",
        "_queued_bytes",
        "_ready",
        "_replayed",
        "_slow_close_timeout",
        "_unsent",
        "_writer",
        "identity",
        "max_buffer_bytes",
        "sent_close_code",
        "ws",
    )

    def __init__(
        self,
        *,
        identity: Identity,
        ws: web.WebSocketResponse,
        max_buffer_bytes: int,
        on_slow: Callable[[Connection], None] | None = None,
        on_written: Callable[[float], None] | None = None,
        abort: Callable[[bool], None] | None = None,
        unsent: Callable[[], int] | None = None,
        slow_close_timeout: float = CLOSE_TIMEOUT_S,
    ) -> None:
        """``abort(only_if_stuck)`` drops the TCP connection (with True: only while bytes
        wait to be sent); ``unsent()`` tells how many do. ``slow_close_timeout`` is how long
        a client closed as slow may take to read through to its 4008 (the gateway passes
        ``NEXUS_GATEWAY_SLOW_CLOSE_S``: such a client is usually alive, only behind)."""
        self.identity = identity
        self._abort = abort
        self._unsent = unsent
        self._closed: asyncio.Event | None = None
        # The code of the first close this side began (the metric's, not the peer's reply).
        self.sent_close_code: int | None = None
        self._slow_close_timeout = slow_close_timeout
        self.ws = ws
        self.max_buffer_bytes = max_buffer_bytes
        # Each frame travels with the wall-clock time its event entered Kafka (0: not a live
        # event), so ``on_written`` learns the delivery latency once the socket took it.
        self._outbox: deque[tuple[bytes, float]] = deque()
        self._queued_bytes = 0
        # While a resumed connection replays what it missed, live frames wait here so
        # the client sees one ordered stream; they count against the same byte bound.
        self._held: deque[tuple[bytes, float]] = deque()
        self._held_bytes = 0
        self._catching_up = False
        # Only while a replay runs (an idle connection carries no event): a resumed
        # connection's events wait for it, as the replay tells which of them the log holds.
        self._replayed: asyncio.Event | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._on_slow = on_slow
        self._on_written = on_written
        self._writer: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.identity.connection_id

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def outbox_bytes(self) -> int:
        """What the writer can hand to the socket now: the queue without the live frames held
        behind a replay (those leave only once the replay ends)."""
        return self._queued_bytes - self._held_bytes

    @property
    def closing(self) -> bool:
        return self._closing

    def start(self) -> None:
        self._writer = asyncio.create_task(self._drain(), name=f"ws-writer-{self.id}")

    def begin_catch_up(self) -> None:
        self._catching_up = True
        self._replayed = asyncio.Event()

    def end_catch_up(self) -> None:
        """Release the live frames held during the replay, after it, in order."""
        self._catching_up = False
        self.replay_over()
        self._held_bytes = 0
        if self._held:
            self._outbox.extend(self._held)
            self._held.clear()
            self._ready.set()

    def replay_over(self) -> None:
        """Whatever waits for the replay goes on (it ended, or failed and the connection is
        being closed: its held frames stay held, never sent after a gap)."""
        if self._replayed is not None:
            self._replayed.set()
            self._replayed = None

    async def replay_done(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until no replay runs for this connection. Past that,
        nothing waits for this replay any more: the connection's events are not held back
        one timeout after another while a long replay (or one queued for a slot) runs."""
        replayed = self._replayed
        if replayed is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await replayed.wait()
        except TimeoutError:
            if self._replayed is replayed:
                self._replayed = None

    @property
    def replaying(self) -> bool:
        return self._replayed is not None

    def send(self, frame: bytes, born: float = 0.0) -> bool:
        """Queue a live ``frame``; False (and a 4008 close) when the client is too far behind.

        ``born`` is when its event was written to Kafka (seconds since the epoch), if known.
        """
        return self._enqueue(frame, born, self._held if self._catching_up else self._outbox)

    def send_direct(self, frame: bytes) -> bool:
        """Queue a frame that never waits behind a replay: protocol answers and replayed events."""
        return self._enqueue(frame, 0.0, self._outbox)

    def _enqueue(self, frame: bytes, born: float, queue: deque[tuple[bytes, float]]) -> bool:
        if self._closing:
            return False
        if self._queued_bytes + len(frame) > self.max_buffer_bytes and (self._outbox or self._held):
            self.close_as_slow()
            return False
        queue.append((frame, born))
        self._queued_bytes += len(frame)
        if queue is self._outbox:
            self._ready.set()
        else:
            self._held_bytes += len(frame)
        return True

    def stop_taking(self) -> None:
        """Refuse every frame from now on; those queued already still go out."""
        self._closing = True

    def close_as_slow(self) -> None:
        """Close with 4008, dropping what is queued: the client resumes from its position."""
        self._closing = True
        self._outbox.clear()
        self._held.clear()
        self._queued_bytes = self._held_bytes = 0
        if self._on_slow is not None:
            self._on_slow(self)
        run_detached(
            self.close(
                CloseCode.SLOW_CONSUMER,
                "slow consumer: resume from your position",
                timeout=self._slow_close_timeout,
            )
        )

    async def _drain(self) -> None:
        try:
            while True:
                await self._ready.wait()
                while self._outbox:
                    frame, born = self._outbox.popleft()
                    self._queued_bytes -= len(frame)
                    # send_frame waits while the socket's write buffer is full: that wait is
                    # this client's alone.
                    await self.ws.send_frame(frame, WSMsgType.TEXT)
                    if born and self._on_written is not None:
                        self._on_written(time.time() - born)
                self._ready.clear()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            # The peer went away (aiohttp raises a bare ConnectionError("Connection lost")
            # for a reset mid-write) or the socket is closing: its reader sees the end.
            return
        except Exception:
            log.exception("writer of connection %s failed", self.id)

    async def flush(self, timeout: float) -> bool:
        """Wait (bounded) until everything queued so far was handed to the socket."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._outbox and asyncio.get_running_loop().time() < deadline:
            if self._writer is None or self._writer.done():
                return False
            # The writer takes frames off the outbox as the socket accepts them; polling
            # keeps the hot path free of per-frame notifications for this rare wait.
            await asyncio.sleep(0.01)
        return not self._outbox

    async def close(
        self, code: int, message: str, *, timeout: float = CLOSE_TIMEOUT_S, final: bool = False
    ) -> None:
        """Close with ``code``, giving the client up to ``timeout`` to read through to the
        close frame; then drop the TCP connection. A close under way already is waited for
        (up to ``timeout``) instead of being cut short by a second one, unless this one is
        ``final`` (the pod is stopping): then the TCP connection is dropped when ``timeout``
        ends, so that a drain's deadline holds whatever close came first (a slow consumer's
        may take longer than a drain may wait)."""
        if self._closed is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self._closed.wait()
            except TimeoutError:
                if final and self._abort is not None:
                    self._abort(False)
            return
        self._closed = asyncio.Event()
        self._closing = True
        self.sent_close_code = code
        # Unless the polite close completes, the TCP connection is dropped, whatever ended
        # the attempt, a cancellation included: a connection left open holds its handler,
        # its fd and its place on the pod for as long as its peer stays silent.
        flushed = False
        try:
            await cancel_and_wait(self._writer)
            async with asyncio.timeout(timeout):
                # No drain: cancelling the writer above while it waited for the socket
                # cancels aiohttp's drain waiter, which the protocol shares and keeps until
                # the socket takes data again, so a drain now would end in CancelledError
                # at once. The close frame is small: it joins the transport's buffer
                # without one, and the wait for the client's close reply follows.
                await self.ws.close(code=code, message=message.encode()[:120], drain=False)
                # aiohttp's close may return with the close frame still behind unsent
                # bytes (the writer was cancelled mid-frame, or the reply came from a
                # handler's read): a client that is alive but behind reads through to it.
                # Polled: the transport tells no one when its buffer empties.
                while self._unsent is not None and self._unsent():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            flushed = True
        except Exception as exc:
            log.debug("connection %s: polite close given up: %r", self.id, exc)
        finally:
            self._closed.set()
            if self._abort is not None:
                # A peer that stopped reading never lets the close frame out.
                self._abort(flushed)
