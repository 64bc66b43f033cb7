"""What a handler gets besides its event: where it came from, and how to answer.

A reply carries the request's identity and trace so that it finds its way back: the
``correlation_id`` (the request's, or its ``event_id`` when it had none) resolves the
gateway's pending flow, the ``connection_id`` routes it to the requesting connection only
(DESIGN.md section 6), and ``traceparent``/``tracestate`` keep it in the same trace.

The events a handler sends get ids derived from the event it handles, numbered in the order
it sends them: a handler retried after a failure, or run again on a record redelivered after a
crash, sends its n-th event under the same ``event_id`` as the first time, so whoever
deduplicates by ``event_id`` (DESIGN.md section 2) drops the repeat. A handler that sends
different events on another attempt gets the ids by position all the same.

A send's wait for Kafka does not count against the handler's ``handler_timeout_s``: it is
bounded by ``send_timeout_s`` of its own, and a Kafka outage is retried, never a timed-out
handler's dead letter. The handler's clock stops while any of its sends waits, so work it does
beside a send (a task of its own running meanwhile) goes untimed for as long.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from nexus_mesh.envelope import Envelope
from nexus_mesh.service.publisher import Published, Publisher

_NO_TRACER = trace.NoOpTracer()


@dataclass(frozen=True, kw_only=True, slots=True)
class Origin:
    """Where the event being handled was read from."""

    topic: str
    partition: int
    offset: int


# Any fixed namespace would do; this one is the mesh's, so ids never collide with another
# scheme's uuid5 of the same text.
_EVENT_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:nexus-mesh:event-id")


class Context:
    """Per-event helpers: :meth:`reply`, :meth:`publish` and :meth:`broadcast`."""

    __slots__ = (
        "_deadline",
        "_publisher",
        "_put_off",
        "_sent",
        "_writes",
        "event",
        "log",
        "origin",
        "replied",
        "service",
        "tracer",
    )

    def __init__(
        self,
        *,
        event: Envelope,
        origin: Origin,
        service: str,
        publisher: Publisher,
        log: logging.Logger,
        tracer: trace.Tracer = _NO_TRACER,
    ) -> None:
        self.event = event
        self.origin = origin
        self.service = service
        self.log = log
        self.tracer = tracer
        """The service's own tracer (instrumentation scope ``nexus.service.<name>``): a span
        a handler starts with it is a child of the record's ``process`` span, in the
        request's trace, and exported as the mesh's are. Non-recording when tracing is off."""
        self._publisher = publisher
        self._sent = 0
        self._deadline: asyncio.Timeout | None = None
        self._writes = 0  # sends waiting for Kafka, the deadline put off meanwhile
        self._put_off = (0.0, 0.0)  # the deadline then, and when the first of them began
        self.replied = False
        """Whether an attempt has answered the requester (:meth:`reply` returned): a
        requester answered once is never told otherwise by a later attempt's failure."""

    def _begin_attempt(self, deadline: asyncio.Timeout | None = None) -> None:
        # Called by the runner as each attempt of the handler begins: a retry sends its
        # events under the ids the failed attempt used, and ``deadline`` is the attempt's
        # handler_timeout_s, which the sends put off while they wait for Kafka.
        self._sent = 0
        self._deadline = deadline
        self._writes = 0

    def _end_attempt(self) -> None:
        # A failure reply sent after the attempt is not the attempt's to time.
        self._deadline = None

    async def _sent_untimed(self, send: Awaitable[Published]) -> Published:
        """``send``, its wait for Kafka added to the handler's deadline.

        Cancelled by the deadline, the write would be left in doubt and the request
        dead-lettered as a slow handler's, for a broker's slowness or outage: the write is
        bounded by ``send_timeout_s`` instead, and an outage is retried."""
        deadline = self._deadline
        if deadline is None or (not self._writes and deadline.when() is None):
            return await send
        loop = asyncio.get_running_loop()
        if not self._writes:
            if deadline.expired():
                return await send  # cancelled already
            self._put_off = (deadline.when() or 0.0, loop.time())
            deadline.reschedule(None)
        self._writes += 1
        try:
            return await send
        finally:
            # Unless the attempt ended meanwhile (a send from a task the handler left).
            if self._deadline is deadline:
                self._writes -= 1
                if not self._writes:
                    when, began = self._put_off
                    deadline.reschedule(when + (loop.time() - began))

    def _next_event_id(self) -> str:
        meta = self.event.metadata
        self._sent += 1
        # Scoped as the request's id is (campaign, user, id), and by service: two services
        # handling one request must not send under the same ids.
        name = "\x1f".join(
            (self.service, meta.campaign_id, meta.user_id or "", meta.event_id, str(self._sent))
        )
        return uuid.uuid5(_EVENT_IDS, name).hex

    @property
    def campaign_id(self) -> str:
        return self.event.metadata.campaign_id

    @property
    def correlation_id(self) -> str:
        """The id a reply correlates to: the request's correlation id, else its event id."""
        meta = self.event.metadata
        return meta.correlation_id or meta.event_id

    async def reply(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> Published:
        """Answer the requester: same campaign, user, connection, correlation and trace."""
        meta = self.event.metadata
        published = await self._sent_untimed(
            self._publisher.publish(
                event_type,
                payload,
                campaign_id=meta.campaign_id,
                user_id=meta.user_id,
                connection_id=meta.connection_id,
                correlation_id=self.correlation_id,
                traceparent=meta.traceparent,
                tracestate=meta.tracestate,
                attributes=attributes,
                event_id=self._next_event_id(),
            )
        )
        self.replied = True
        return published

    async def publish(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        campaign_id: str | None = None,
        user_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Published:
        """Send to a whole campaign (this event's by default) or to one user in it.

        The event stays in the current trace but is not a reply: it carries no correlation
        or connection, so every targeted connection gets it.
        """
        meta = self.event.metadata
        return await self._sent_untimed(
            self._publisher.publish(
                event_type,
                payload,
                campaign_id=campaign_id or meta.campaign_id,
                user_id=user_id,
                traceparent=meta.traceparent,
                tracestate=meta.tracestate,
                attributes=attributes,
                event_id=self._next_event_id(),
            )
        )

    async def broadcast(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> Published:
        """Send to every connection of every campaign, through ``<prefix>.system``."""
        meta = self.event.metadata
        return await self._sent_untimed(
            self._publisher.broadcast(
                event_type,
                payload,
                traceparent=meta.traceparent,
                tracestate=meta.tracestate,
                attributes=attributes,
                event_id=self._next_event_id(),
            )
        )
