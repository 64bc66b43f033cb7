"""What a handler gets besides its event: where it came from, and how to answer.

A reply carries the request's identity and trace so that it finds its way back: the
``correlation_id`` (the request's, or its ``event_id`` when it had none) resolves the
gateway's pending flow, the ``connection_id`` routes it to the requesting connection only
(DESIGN.md section 6), and ``traceparent``/``tracestate`` keep it in the same trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nexus_mesh.envelope import Envelope
from nexus_mesh.service.publisher import Published, Publisher


@dataclass(frozen=True, kw_only=True, slots=True)
class Origin:
    """Where the event being handled was read from."""

    topic: str
    partition: int
    offset: int


class Context:
    """Per-event helpers: :meth:`reply`, :meth:`publish` and :meth:`broadcast`."""

    __slots__ = ("_publisher", "event", "log", "origin", "service")

    def __init__(
        self,
        *,
        event: Envelope,
        origin: Origin,
        service: str,
        publisher: Publisher,
        log: logging.Logger,
    ) -> None:
        self.event = event
        self.origin = origin
        self.service = service
        self.log = log
        self._publisher = publisher

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
        return await self._publisher.publish(
            event_type,
            payload,
            campaign_id=meta.campaign_id,
            user_id=meta.user_id,
            connection_id=meta.connection_id,
            correlation_id=self.correlation_id,
            traceparent=meta.traceparent,
            tracestate=meta.tracestate,
            attributes=attributes,
        )

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
        return await self._publisher.publish(
            event_type,
            payload,
            campaign_id=campaign_id or meta.campaign_id,
            user_id=user_id,
            traceparent=meta.traceparent,
            tracestate=meta.tracestate,
            attributes=attributes,
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
        return await self._publisher.broadcast(
            event_type,
            payload,
            traceparent=meta.traceparent,
            tracestate=meta.tracestate,
            attributes=attributes,
        )
