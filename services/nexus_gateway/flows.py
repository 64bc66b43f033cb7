"""Request flows awaiting their reply; a gateway-made timeout event when none comes in time.

A request (e.g. ``search`` -> ``search.requested``) waits, keyed by connection and
correlation id, until a reply type of its flow is routed to that connection; after the flow's
``timeout_ms`` the connection gets the flow's timeout event instead (DESIGN.md section 3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from nexus_mesh.registry import Flow


@dataclass(frozen=True, slots=True)
class PendingRequest:
    connection_id: str
    correlation_id: str
    flow: Flow
    request_payload: dict[str, object]


class FlowTracker:
    def __init__(self, on_timeout: Callable[[PendingRequest], None]) -> None:
        self._on_timeout = on_timeout
        self._pending: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def track(self, request: PendingRequest) -> None:
        key = (request.connection_id, request.correlation_id)
        previous = self._pending.pop(key, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._pending[key] = loop.call_later(
            request.flow.timeout_ms / 1000, self._expire, key, request
        )

    def _expire(self, key: tuple[str, str], request: PendingRequest) -> None:
        if self._pending.pop(key, None) is not None:
            self._on_timeout(request)

    def resolve(self, connection_id: str, correlation_id: str) -> bool:
        handle = self._pending.pop((connection_id, correlation_id), None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def forget_connection(self, connection_id: str) -> None:
        for key in [k for k in self._pending if k[0] == connection_id]:
            self._pending.pop(key).cancel()

    def cancel_all(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
