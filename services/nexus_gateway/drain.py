"""Draining a gateway before it stops (SIGTERM) or for maintenance (``POST /drain``).

Order matters: readiness turns false first so load balancers stop sending connections; new
client events are refused with a retryable ``unavailable``; writes already in flight finish
(ack or error); writes answered ``unconfirmed`` are waited for too, the sockets open, so that
a client resending one learns its outcome here; what each client is owed is flushed; then
every client is closed with 1001 and resumes on another pod from its last position. All of it,
close handshakes included, within ``NEXUS_GATEWAY_DRAIN_TIMEOUT_S``: the chart sizes the pod's
grace period on that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from nexus_gateway.connection import CLOSE_TIMEOUT_S, Connection
from nexus_gateway.protocol import CloseCode
from nexus_gateway.state import Gateway

log = logging.getLogger(__name__)


async def drain(gateway: Gateway, timeout_s: float) -> None:
    if gateway.draining is not None:
        await gateway.draining.wait()
        return
    gateway.draining = asyncio.Event()
    gateway.accepting = False
    began = time.monotonic()
    deadline = began + timeout_s
    connections = list(gateway.hub)
    log.info("draining %d connection(s) within %.0f s", len(connections), timeout_s)
    # What the writes may take: all but the time to flush the outboxes and close.
    closing = min(CLOSE_TIMEOUT_S, timeout_s / 4)
    writes_until = deadline - 2 * closing
    finished = await gateway.ingress.wait_idle(writes_until - time.monotonic())
    if not finished:
        log.warning("drain: client events still in flight after %.1f s", time.monotonic() - began)
    # A write answered `unconfirmed` may still land, and only this pod can tell which: a
    # resend of its event_id gets the original ack here, where the next pod would write it
    # again. So the sockets stay open until Kafka settles those writes (a write in flight
    # when the drain began is answered only after the produce timeout: a drain budget
    # shorter than that and a broker stall leaves little of this wait).
    unsettled = await gateway.ingress.wait_settled(writes_until - time.monotonic())
    if unsettled:
        log.warning(
            "drain: %d write(s) still unconfirmed by Kafka; a resend on another pod may write "
            "them a second time",
            unsettled,
        )
    # Resends that waited on those writes are being answered now: their acks go out first.
    await gateway.ingress.wait_idle(max(0.0, writes_until - time.monotonic()))

    # The close handshake is part of the budget: a peer that never answers the close frame
    # would otherwise hold the pod past the drain, into the kubelet's SIGKILL.
    # Connections still joining when the drain began close themselves once registered
    # (websocket_handler checks ``accepting`` after the join): closing them here as well would
    # race that close.
    await close_all(
        connections,
        "gateway draining: reconnect and resume",
        flush_until=deadline - closing,
        deadline=deadline,
    )
    log.info("drained in %.2f s", time.monotonic() - began)
    gateway.draining.set()


async def close_all(
    connections: Iterable[Connection], message: str, *, flush_until: float, deadline: float
) -> None:
    """Close every connection with 1001, all at once: each flushes what it is owed until
    ``flush_until``, and is closed, or dropped, by ``deadline`` (``time.monotonic()``), a
    close already under way included (a slow consumer's may take longer than that)."""

    async def close(connection: Connection) -> None:
        await connection.flush(max(0.0, flush_until - time.monotonic()))
        await connection.close(
            CloseCode.GOING_AWAY,
            message,
            timeout=max(0.1, deadline - time.monotonic()),
            final=True,
        )

    await asyncio.gather(*(close(c) for c in connections), return_exceptions=True)
