"""A connection's client events, handled side by side but written to Kafka in the order sent.

Handling one event at a time made every event wait for the acks of the one before it: in a
broker outage a burst of three was answered 10, 20 and 30 s later, one produce timeout each,
and a client timing its emits on ``NEXUS_GATEWAY_PRODUCE_TIMEOUT_S`` gave up on all but the
first. Now each event waits only until the one before it is *queued* in the producer, which
keeps the campaign's order in Kafka (one producer, one partition per campaign, records sent in
queue order), and waits for its own acks alongside the others.

At most ``limit`` events of a connection are in hand at once; past that the gateway stops
reading the socket, so a client that outruns Kafka is slowed by TCP, not buffered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

# Enough for a burst of chat messages or a search per keystroke; a connection with more
# waiting on Kafka is not read until some are answered.
MAX_EVENTS_IN_HAND = 32


class Turn:
    """One event's place in its connection's order of writes."""

    __slots__ = ("_before", "_mine")

    def __init__(self, before: asyncio.Future[None] | None, mine: asyncio.Future[None]) -> None:
        self._before = before
        self._mine = mine

    @property
    def ready(self) -> bool:
        """Whether the event before this one is queued or done with already (the usual
        case: a client waits for its answers before sending more)."""
        return self._before is None or self._before.done()

    async def wait(self) -> None:
        """Until the event before this one is queued for Kafka, or done with."""
        before = self._before
        if before is not None and not before.done():
            # Shielded: cancelling this event must not mark the one before it as passed.
            await asyncio.shield(before)

    def passed(self) -> None:
        """This event is queued for Kafka, or will not be written: the next may go once the
        event before this one has gone too (a refused event never waited for its turn, and
        must not let the next overtake the one before it)."""
        mine = self._mine
        if mine.done():
            return
        before = self._before
        if before is None or before.done():
            mine.set_result(None)
        else:
            before.add_done_callback(lambda _: _settle(mine))


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Handling(Protocol):
    """An event bound to its handler, waiting for its turn (``Ingress.handle`` partially
    applied)."""

    def __call__(self, *, turn: Turn) -> Awaitable[bytes]: ...


class EventPipeline:
    """The client events of one connection that are being handled."""

    def __init__(self, answer: Callable[[bytes], object], *, limit: int = MAX_EVENTS_IN_HAND):
        self._answer = answer
        self._room = asyncio.Semaphore(limit)
        self._last: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, handle: Handling) -> None:
        """Start handling an event (``handle`` answers it); waits while ``limit`` are in hand."""
        await self._room.acquire()
        mine = asyncio.get_running_loop().create_future()
        turn = Turn(self._last, mine)
        self._last = mine
        task = asyncio.create_task(self._run(handle, turn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, handle: Handling, turn: Turn) -> None:
        try:
            answer = await handle(turn=turn)
        finally:
            turn.passed()
            self._room.release()
        self._answer(answer)

    @property
    def in_hand(self) -> int:
        return len(self._tasks)

    async def finish(self) -> None:
        """Wait for the events in hand to be answered (each is bounded by the produce
        timeout); cancelled, it cancels them."""
        if not self._tasks:
            return
        tasks = list(self._tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
