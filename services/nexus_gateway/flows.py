"""Request flows awaiting their reply; a gateway-made timeout event when none comes in time.

A request (e.g. ``search`` -> ``search.requested``) waits, keyed by connection and
correlation id, until a reply type of its flow is routed to that connection; ``timeout_ms``
after Kafka confirmed the request's write, the connection gets the flow's timeout event
instead (DESIGN.md section 3).

A waiting request outlives its socket: a client that reconnects here with its connection id
(``?since=...&connection_id=...``) still gets the timeout. One that is away when the timer
fires misses it. A timeout queued on the socket may be lost too: the queue goes with its
connection (a slow consumer's close, a network that drops), and a gateway-made timeout is
written nowhere a resume replays. So every fired timeout is remembered as owed, and when the
client resends the request (same ``event_id``, answered from the first write) the wait starts
again. A reply ends the wait
however it reaches the client (live, or replayed on resume) and forgets a missed timeout,
so no timeout follows a reply. A reply that comes after the timeout is still delivered (it
is an event in the client's stream like any other): clients match answers on
``correlation_id``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.context import Context

from nexus_mesh.registry import Flow


@dataclass(frozen=True, slots=True)
class PendingRequest:
    connection_id: str
    correlation_id: str
    flow: Flow
    timeout_values: dict[str, object]
    """The timeout event's payload (JSON values): what its schema shares with the request,
    and ``timeout_ms``. Only that is kept, not the whole request, which may be large and is
    held for as long as the request waits (or its missed timeout is owed)."""
    context: Context | None = None
    """Where the request was received (its ``ws receive`` span is current there): a timeout
    event joins the request's trace instead of starting one of its own. Kept as it is, not
    formatted: most requests are answered and never need it."""
    traceparent: str | None = None
    """The client's trace context, passed on when tracing is off."""
    tracestate: str | None = None


# Fired timeouts remembered for a resend, per kind (below); beyond this many of a kind, or
# after MISSED_TTL_S, the oldest are forgotten (their resend is then acked without a new
# wait). The TTL is the time a client has to come back with its connection id.
MAX_MISSED = 10_000
MISSED_TTL_S = 600.0

_Owed = OrderedDict[tuple[str, str], tuple[float, PendingRequest]]


class _Waiting:
    """A request waiting for its reply: since when, its timeout once armed, and whether its
    answer is timed (not once its timeout fired: that wait is counted as a timeout)."""

    __slots__ = ("request", "since", "timed", "timer")

    def __init__(self, request: PendingRequest, since: float, timed: bool) -> None:
        self.request = request
        self.since = since
        self.timed = timed
        self.timer: asyncio.TimerHandle | None = None


class FlowTracker:
    def __init__(
        self,
        on_timeout: Callable[[PendingRequest], bool],
        *,
        on_answered: Callable[[PendingRequest, float], None] | None = None,
        missed_ttl_s: float = MISSED_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``on_timeout`` delivers the timeout event (False when the connection is not here or
        refused the frame). Either way the request is remembered as owed, and a resend after
        the client's resume waits again: a queued frame is no delivered one.
        ``on_answered`` learns of each reply that ended a wait, and how long it waited (s)."""
        self._on_timeout = on_timeout
        self._on_answered = on_answered
        # connection id -> correlation id -> the request's wait.
        self._pending: dict[str, dict[str, _Waiting]] = {}
        # (connection id, correlation id) -> (when it fired, the request), oldest first. Kept
        # apart, each to its own bound: timeouts that reached a socket's queue (most, and all
        # of them while a service is down) must not push out those that reached no socket,
        # which are certainly owed.
        self._missed: _Owed = OrderedDict()
        self._queued: _Owed = OrderedDict()
        self._missed_ttl_s = missed_ttl_s
        self._clock = clock

    def __len__(self) -> int:
        return sum(len(timers) for timers in self._pending.values())

    def now(self) -> float:
        """The tracker's clock: a request's ``since``, taken when its frame is read."""
        return self._clock()

    def track(
        self,
        request: PendingRequest,
        *,
        armed: bool = True,
        since: float | None = None,
        timed: bool = True,
    ) -> None:
        """Wait for ``request``'s reply; its timeout runs from now, or, not ``armed``, from
        :meth:`arm`. A request is tracked before its write (a reply may come before the
        write's ack is handled) and armed once Kafka confirms the write: while Kafka cannot
        take it, the client's answer is about Kafka (``unavailable``, ``unconfirmed``), not a
        timeout that blames the service. ``since`` (this tracker's :meth:`now`) is when the
        frame was read: the round trip ``on_answered`` reports starts there."""
        timers = self._pending.setdefault(request.connection_id, {})
        previous = timers.pop(request.correlation_id, None)
        if previous is not None and previous.timer is not None:
            previous.timer.cancel()
        started = self._clock() if since is None else since
        waiting = timers[request.correlation_id] = _Waiting(request, started, timed)
        if armed:
            self._arm(waiting)

    def arm(self, request: PendingRequest) -> None:
        """``request``'s write is confirmed: its timeout starts, if it still waits (and is
        not replaced by a later request of the same correlation id)."""
        waiting = self._waiting(request)
        if waiting is not None and waiting.timer is None:
            self._arm(waiting)

    def drop(self, request: PendingRequest) -> None:
        """``request`` was never written: nothing will answer it, and nothing is owed (a later
        request of the same correlation id waits on)."""
        if self._waiting(request) is not None:
            waiting = self._pop(request.connection_id, request.correlation_id)
            if waiting is not None and waiting.timer is not None:
                waiting.timer.cancel()

    def _waiting(self, request: PendingRequest) -> _Waiting | None:
        waiting = self._pending.get(request.connection_id, {}).get(request.correlation_id)
        return waiting if waiting is not None and waiting.request is request else None

    def _arm(self, waiting: _Waiting) -> None:
        request = waiting.request
        waiting.timer = asyncio.get_running_loop().call_later(
            request.flow.timeout_ms / 1000, self._expire, request
        )

    def _expire(self, request: PendingRequest) -> None:
        if self._pop(request.connection_id, request.correlation_id) is None:
            return
        owed = self._queued if self._on_timeout(request) else self._missed
        now = self._clock()
        self._forget_old(now)
        key = (request.connection_id, request.correlation_id)
        owed[key] = (now, request)
        owed.move_to_end(key)
        while len(owed) > MAX_MISSED:
            owed.popitem(last=False)

    def _forget_old(self, now: float) -> None:
        horizon = now - self._missed_ttl_s
        for owed in (self._missed, self._queued):
            while owed and next(iter(owed.values()))[0] < horizon:
                owed.popitem(last=False)

    def resolve(self, connection_id: str, correlation_id: str) -> bool:
        """A reply reached (or is on its way to) the connection: the request is answered."""
        self._missed.pop((connection_id, correlation_id), None)
        self._queued.pop((connection_id, correlation_id), None)
        waiting = self._pop(connection_id, correlation_id)
        if waiting is None:
            return False
        if waiting.timer is not None:
            waiting.timer.cancel()
        if self._on_answered is not None and waiting.timed:
            self._on_answered(waiting.request, self._clock() - waiting.since)
        return True

    def owes(self, connection_id: str, correlation_id: str) -> bool:
        """Whether this gateway holds that request: waiting, or its timeout owed."""
        key = (connection_id, correlation_id)
        timers = self._pending.get(connection_id)
        waiting = timers is not None and correlation_id in timers
        return waiting or key in self._missed or key in self._queued

    def rearm(self, connection_id: str, correlation_id: str) -> bool:
        """Wait again for a request whose timeout fired (the client may not have seen it)."""
        self._forget_old(self._clock())
        key = (connection_id, correlation_id)
        owed = self._missed.pop(key, None) or self._queued.pop(key, None)
        if owed is None:
            return False
        # Counted once already, as a timeout: its late answer is no round trip to time.
        self.track(owed[1], timed=False)
        return True

    def _pop(self, connection_id: str, correlation_id: str) -> _Waiting | None:
        timers = self._pending.get(connection_id)
        if timers is None:
            return None
        handle = timers.pop(correlation_id, None)
        if not timers:
            del self._pending[connection_id]
        return handle

    def cancel_all(self) -> None:
        for timers in self._pending.values():
            for waiting in timers.values():
                if waiting.timer is not None:
                    waiting.timer.cancel()
        self._pending.clear()
        self._missed.clear()
        self._queued.clear()
