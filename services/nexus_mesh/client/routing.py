"""``Routing``: where the frames a ``MeshClient`` receives go, and its ``position``.

The client's single reader task hands every frame it reads to its ``Routing``, which routes
it once:

- ``nexus.ack`` / ``nexus.error`` resolve the pending ``emit`` with that event id (the frame's
  ``metadata.correlation_id``, else ``payload.event_id``); unmatched ones, and any other
  ``nexus.*`` frame, go to a small protocol inbox read by ``next_protocol_frame``;
- a delivered event whose ``correlation_id`` a ``request`` is waiting for resolves it;
- a reply its service sent again (the ``correlation_id`` and ``event_id`` of one a
  ``request`` returned, across a resume too) is dropped and counted in ``repeated_replies``;
- every other delivered event goes to a bounded inbox read by ``events()`` / ``next_event``;
  one addressed to this connection or user with a ``correlation_id`` nobody waits for (a
  reply replayed by a resume, before the request is resent) is also kept, the last 1000,
  for a ``request`` of that id to find, which takes it out of the events inbox if it is
  still unread there.

When the events inbox is full the reader stops reading the socket, so a consumer that falls
behind pushes back on the gateway (which may then close with 4008) instead of growing memory;
except while an ``emit`` or ``request`` waits for its answer, which may be queued behind those
events: the inbox then takes them past its bound, by as many again (at least 1000), so an
application that answers events from inside its ``events()`` loop is not stuck waiting on
itself (past that the answer waits too, until its timeout or until events are read).

``position`` follows every delivered event the client received: handed to a ``request``, or
in the events inbox, read or not (one the reader has not queued yet, when a close stops it,
is not counted).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import TypeVar

from nexus_mesh.client.frames import ACK, ERROR, PROTOCOL_PREFIX, Event, MeshClosedError
from nexus_mesh.client.inbox import Inbox

# Replies nobody waited for yet, kept for a request resent after a resume (and as many
# answered requests, whose replies' repeats are dropped).
UNCLAIMED_REPLIES = 1000
T = TypeVar("T")


class Routing:
    """The waiters for a session's answers and replies, its two inboxes and its position."""

    def __init__(self, *, max_queued_events: int, position: str | None) -> None:
        self._position = position
        self._answers: dict[str, deque[asyncio.Future[Event]]] = {}
        self._replies: dict[str, asyncio.Future[Event]] = {}
        self._unclaimed: OrderedDict[str, Event] = OrderedDict()
        # correlation id -> the event id of the reply that answered it, the last 1000: a
        # service is at least once, and a reply it sends again (after a crash or a rebalance)
        # keeps its event id.
        self._answered: OrderedDict[str, str] = OrderedDict()
        self.repeated_replies = 0
        """Replies dropped because their request had that very reply already."""
        self._events: Inbox[Event] = Inbox(max_queued_events)
        self._held: Event | None = None  # the reader's event while it waits for room
        self._held_claimed = False  # ... and a request took it meanwhile
        self._protocol: Inbox[Event] = Inbox(1_000)

    @property
    def position(self) -> str | None:
        return self._position

    def inherit(self, earlier: Routing) -> None:
        """Take over what a resumed session's routing knew of its requests' replies."""
        # Replies received there that no request took (one that came as its request gave
        # up, before the position moved past it) are for the resends after the resume.
        for correlation_id, reply in earlier._unclaimed.items():
            self._unclaimed.setdefault(correlation_id, reply)
        self._answered.update(earlier._answered)

    # -- waiters ------------------------------------------------------------------------

    def expect_answer(self, event_id: str) -> asyncio.Future[Event]:
        """A future for the next ``nexus.ack`` / ``nexus.error`` of ``event_id``; give it
        back to :meth:`drop_answer` once done with it."""
        answer: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        # Several sends of one event id each get one answer (matched where frames are read).
        self._answers.setdefault(event_id, deque()).append(answer)
        self._events.wake()  # a reader parked on a full inbox reads on to the answer
        return answer

    def drop_answer(self, event_id: str, answer: asyncio.Future[Event]) -> None:
        waiting = self._answers.get(event_id)
        if waiting is not None and answer in waiting:
            waiting.remove(answer)
            if not waiting:
                del self._answers[event_id]
        _settle(answer)

    def awaits_reply(self, correlation_id: str) -> bool:
        return correlation_id in self._replies

    def expect_reply(self, correlation_id: str) -> tuple[asyncio.Future[Event], Event | None]:
        """A future for the reply of ``correlation_id``, and the reply kept for it if any
        (the future's result already); give it back to :meth:`drop_reply` once done."""
        reply: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        replayed = self._unclaimed.pop(correlation_id, None)
        if replayed is not None:
            reply.set_result(replayed)
        self._replies[correlation_id] = reply
        return reply, replayed

    def take_replayed(self, correlation_id: str, reply: Event) -> None:
        """A reply kept from before (:meth:`expect_reply`) answered its request."""
        self._withdraw(reply)
        self._note_answered(correlation_id, reply)

    def drop_reply(
        self, correlation_id: str, reply: asyncio.Future[Event], *, answered: bool
    ) -> None:
        """The request of ``correlation_id`` is done: ``answered`` if it returned ``reply``."""
        if self._replies.get(correlation_id) is reply:
            del self._replies[correlation_id]
        if not answered and reply.done() and not reply.cancelled() and reply.exception() is None:
            # It arrived as this request gave up (timeout, cancellation, an error
            # answer): kept for a resend of it, as a reply replayed by a resume is, and
            # not an answer given, so its service's repeat still reaches events().
            kept = reply.result()
            self._keep_unclaimed(correlation_id, kept)
            if kept.event_id is not None and self._answered.get(correlation_id) == kept.event_id:
                del self._answered[correlation_id]
        _settle(reply)

    # -- receiving ----------------------------------------------------------------------

    async def take(self, event: Event) -> None:
        """Route ``event``, a frame the reader received; it waits while the events inbox has
        no room for it."""
        routed = self._route(event)
        if routed is None:
            return
        self._held = routed
        try:
            await self._events.put(routed, beyond_bound=self._answer_awaited)
        finally:
            self._held = None
        if self._held_claimed:
            # A request took it while it waited for room (_withdraw).
            self._held_claimed = False
            self._events.take_back(routed)
        # Only once queued: a close that stops the reader before would
        # otherwise move the position past an event nobody received.
        self._received(routed)

    async def next_event(self) -> Event | None:
        """The next event of the events inbox; None once it ended and was read."""
        return await self._events.get()

    async def next_protocol_frame(self) -> Event | None:
        """The next frame of the protocol inbox; None once it ended and was read."""
        return await self._protocol.get()

    def end(self, close_code: int, reason: str) -> None:
        """The session ended: every waiter fails, and the inboxes end after what they hold."""
        waiting = [f for answers in self._answers.values() for f in answers]
        waiting.extend(self._replies.values())
        self._answers.clear()
        self._replies.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(MeshClosedError(close_code, reason))
        self._events.end()
        self._protocol.end()

    def _route(self, event: Event) -> Event | None:
        """Hand ``event`` to whoever waits for it; return it if it is for the events inbox."""
        if event.type.startswith(PROTOCOL_PREFIX):
            self._received(event)  # not for the events inbox: received now
        if event.type in (ACK, ERROR):
            key = event.correlation_id or event.payload.get("event_id")
            waiting = self._answers.get(key) if isinstance(key, str) else None
            # Sends of one id are answered in order, but for a refusal the gateway answers
            # unread, at once (a rate-limited resend is answered before the write it
            # repeats): that one settles the newest send.
            unread = event.type == ERROR and event.payload.get("code") == "rate_limited"
            while waiting:
                answer = waiting.pop() if unread else waiting.popleft()
                if not answer.done():
                    answer.set_result(event)
                    return None
            self._protocol.put_dropping_oldest(event)
            return None
        if event.type.startswith(PROTOCOL_PREFIX):
            self._protocol.put_dropping_oldest(event)
            return None
        correlation_id = event.correlation_id
        # Only an event addressed to this user or connection answers a request: a campaign
        # peer's event may carry any correlation_id its sender chose.
        if correlation_id is not None and (
            event.metadata.get("connection_id") or event.metadata.get("user_id")
        ):
            if event.event_id is not None and self._answered.get(correlation_id) == event.event_id:
                # The reply its request returned already, sent again by its service: not a
                # second answer for the application to find in events().
                self.repeated_replies += 1
                self._received(event)
                return None
            reply = self._replies.pop(correlation_id, None)
            if reply is not None and not reply.done():
                reply.set_result(event)
                self._note_answered(correlation_id, event)
                self._received(event)
                return None
            self._keep_unclaimed(correlation_id, event)
        return event

    def _note_answered(self, correlation_id: str, reply: Event) -> None:
        if reply.event_id is not None:
            _keep_last(self._answered, correlation_id, reply.event_id)

    def _received(self, event: Event) -> None:
        if event.position is not None:
            self._position = event.position

    def _withdraw(self, event: Event) -> None:
        """``event`` answered a request: not in events() as well, unless the application read
        it there already (once the request is answered: one that fails leaves it there)."""
        if not self._events.take_back(event) and self._held is event:
            self._held_claimed = True  # the reader queues it and takes it back at once

    def _answer_awaited(self) -> bool:
        return bool(self._answers or self._replies)

    def _keep_unclaimed(self, correlation_id: str, event: Event) -> None:
        _keep_last(self._unclaimed, correlation_id, event)


def _keep_last(kept: OrderedDict[str, T], key: str, value: T) -> None:
    """``kept[key] = value`` as its newest entry, the oldest forgotten past
    ``UNCLAIMED_REPLIES``."""
    kept[key] = value
    kept.move_to_end(key)
    if len(kept) > UNCLAIMED_REPLIES:
        kept.popitem(last=False)


def _settle(future: asyncio.Future[Event]) -> None:
    """Leave no future behind whose exception nobody retrieves (asyncio logs those)."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
