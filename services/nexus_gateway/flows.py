"""Request flows awaiting their reply; a gateway-made timeout event when none comes in time.

A request (e.g. ``search`` -> ``search.requested``) waits, keyed by connection and
correlation id, until a reply type of its flow is routed to that connection; after the flow's
``timeout_ms`` the connection gets the flow's timeout event instead (DESIGN.md section 3).

A waiting request outlives its socket: a client that reconnects here with its connection id
(``?since=...&connection_id=...``) still gets the timeout. One that is away when the timer
fires misses it, and when it resends the request (same ``event_id``, answered from the first
write) the wait starts again, so every request still ends in a reply or a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.context import Context

from nexus_mesh.registry import Flow


@dataclass(frozen=True, slots=True)
class PendingRequest:
    connection_id: str
    correlation_id: str
    flow: Flow
    request_payload: dict[str, object]
    context: Context | None = None
    """Where the request was received (its ``ws receive`` span is current there): a timeout
    event joins the request's trace instead of starting one of its own. Kept as it is, not
    formatted: most requests are answered and never need it."""
    traceparent: str | None = None
    """The client's trace context, passed on when tracing is off."""
    tracestate: str | None = None


class FlowTracker:
    def __init__(self, on_timeout: Callable[[PendingRequest], None]) -> None:
        self._on_timeout = on_timeout
        # connection id -> correlation id -> timer.
        self._pending: dict[str, dict[str, asyncio.TimerHandle]] = {}

    def __len__(self) -> int:
        return sum(len(timers) for timers in self._pending.values())

    def track(self, request: PendingRequest) -> None:
        timers = self._pending.setdefault(request.connection_id, {})
        previous = timers.pop(request.correlation_id, None)
        if previous is not None:
            previous.cancel()
        timers[request.correlation_id] = asyncio.get_running_loop().call_later(
            request.flow.timeout_ms / 1000, self._expire, request
        )

    def _expire(self, request: PendingRequest) -> None:
        if self._pop(request.connection_id, request.correlation_id) is not None:
            self._on_timeout(request)

    def resolve(self, connection_id: str, correlation_id: str) -> bool:
        handle = self._pop(connection_id, correlation_id)
        if handle is None:
            return False
        handle.cancel()
        return True

    def _pop(self, connection_id: str, correlation_id: str) -> asyncio.TimerHandle | None:
        timers = self._pending.get(connection_id)
        if timers is None:
            return None
        handle = timers.pop(correlation_id, None)
        if not timers:
            del self._pending[connection_id]
        return handle

    def is_pending(self, connection_id: str, correlation_id: str) -> bool:
        return correlation_id in self._pending.get(connection_id, {})

    def cancel_all(self) -> None:
        for timers in self._pending.values():
            for handle in timers.values():
                handle.cancel()
        self._pending.clear()
