"""Publishing events from backend code: plain dicts in, validated envelopes on Kafka out.

The topic of an event type comes from the manifest (``clients``, ``system`` or a domain), so
adding an event type needs no code change here. Payloads are written as natural JSON-like
dicts and converted and validated against the type's schema before anything is sent: an
invalid payload raises :class:`~nexus_mesh.errors.PayloadInvalidError` and never reaches Kafka,
nor does a type the manifest does not let services send, nor a ``system`` type sent anywhere
but as a broadcast (:class:`~nexus_mesh.errors.ConfigurationError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import BROADCAST_CAMPAIGN, Envelope, Metadata, new_event_id, now_ms
from nexus_mesh.errors import ConfigurationError, PayloadInvalidError
from nexus_mesh.kafka.producer import Written
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.prometheus import timed_write
from nexus_mesh.registry import Registry
from nexus_mesh.registry.model import SYSTEM_TOPIC
from nexus_mesh.service.metrics import ServiceMetrics

SERVICE_SENDER = "service"


@dataclass(frozen=True, kw_only=True, slots=True)
class Published:
    """Where an event went, and the id it got."""

    event_id: str
    topic: str
    partition: int
    offset: int


def topic_for(topics: TopicNames, manifest_topic: str | None, event_type: str) -> str:
    """The Kafka topic of a manifest entry's ``topic``."""
    topic = topics.of_manifest_topic(manifest_topic)
    if topic is None:
        raise ConfigurationError(f"{event_type} is a protocol event; it is never published")
    return topic


class EventFactory:
    """Validated envelopes stamped with one ``source``, and their topics; no I/O."""

    def __init__(
        self, *, registry: Registry, codec: Codec, topics: TopicNames, source: str
    ) -> None:
        self._registry = registry
        self._codec = codec
        self._topics = topics
        self._source = source

    @property
    def topics(self) -> TopicNames:
        return self._topics

    def envelope(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        campaign_id: str,
        user_id: str | None = None,
        connection_id: str | None = None,
        correlation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        attributes: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> Envelope:
        """A validated envelope; raises UnknownTypeError or PayloadInvalidError."""
        if not campaign_id:
            raise ValueError("campaign_id must be a non-empty string")
        try:
            checked = self._codec.payload_from_json(event_type, dict(payload))
        except PayloadInvalidError as exc:
            # Named: in a dead letter's log line, "payload.text: expected string" otherwise
            # reads as the request's fault, not the handler's reply.
            raise PayloadInvalidError(f"{event_type} to publish: {exc}") from exc
        return Envelope(
            type=event_type,
            payload=checked,
            metadata=Metadata(
                event_id=event_id or new_event_id(),
                campaign_id=campaign_id,
                source=self._source,
                time=now_ms(),
                correlation_id=correlation_id,
                user_id=user_id,
                connection_id=connection_id,
                traceparent=traceparent,
                tracestate=tracestate,
                attributes=dict(attributes or {}),
            ),
        )

    def require_sender(self, event_type: str, sender: str) -> None:
        """Raise ConfigurationError unless the manifest lists ``sender`` for ``event_type``."""
        senders = self._registry.event(event_type).senders
        if sender not in senders:
            raise ConfigurationError(
                f"{event_type} is sent by {' and '.join(sorted(senders))} only (senders in the "
                f"manifest), not by a {sender}"
            )

    def topic_of(self, event_type: str, *, broadcast: bool = False) -> str:
        """The topic the manifest names for ``event_type``, or ``<prefix>.system``.

        A type whose topic is ``system`` is refused unless sent as a broadcast: gateways hand
        everything on ``<prefix>.system`` to every connection, so its campaign and user would
        be ignored, and an event meant for one user would reach every tenant.
        """
        manifest_topic = self._registry.event(event_type).topic
        topic = topic_for(self._topics, manifest_topic, event_type)
        if broadcast:
            if manifest_topic != SYSTEM_TOPIC:
                # Every connection of every tenant would get an event the manifest meant for
                # one campaign or one domain.
                raise ConfigurationError(
                    f"{event_type} is not a broadcast type (its topic in the manifest is "
                    f"{manifest_topic}, not system): publish it to a campaign instead"
                )
            return self._topics.system
        if manifest_topic == SYSTEM_TOPIC:
            raise ConfigurationError(
                f"{event_type} goes to every connection (topic system in the manifest): "
                "send it as a broadcast (ctx.broadcast, Publisher.broadcast, nexus publish "
                "--broadcast), not to a campaign or user"
            )
        return topic


class EnvelopeSink(Protocol):
    """Where a publisher's envelopes go: :class:`~nexus_mesh.kafka.producer.EnvelopeProducer`
    in a service, :class:`~nexus_mesh.service.testing.Outbox` in a handler's unit test."""

    async def send(self, envelope: Envelope, *, topic: str) -> Written: ...


class Publisher:
    """Writes events built by an :class:`EventFactory` where the manifest says."""

    def __init__(
        self,
        *,
        registry: Registry,
        codec: Codec,
        producer: EnvelopeSink,
        topics: TopicNames,
        source: str,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.events = EventFactory(registry=registry, codec=codec, topics=topics, source=source)
        self._producer = producer
        self._source = source
        self._metrics = metrics
        # Each write's latency, by outcome, under this service's label.
        self._latency = partial(metrics.produce_latency.labels, source) if metrics else None

    async def send(self, envelope: Envelope, *, broadcast: bool = False) -> Published:
        """Write ``envelope`` to its type's topic (or ``<prefix>.system`` to broadcast).

        Only types the manifest lets services send (``senders`` has ``service``): a service
        that wrote a client's request or a gateway's timeout would impersonate them.
        """
        return await self._write(envelope, self._topic(envelope.type, broadcast=broadcast))

    def _topic(self, event_type: str, *, broadcast: bool) -> str:
        """Where ``event_type`` goes, once the manifest says this service may send it there."""
        self.events.require_sender(event_type, SERVICE_SENDER)
        return self.events.topic_of(event_type, broadcast=broadcast)

    async def _write(self, envelope: Envelope, topic: str) -> Published:
        with timed_write(self._latency):
            written = await self._producer.send(envelope, topic=topic)
        if self._metrics is not None:
            self._metrics.events_out.labels(self._source, envelope.type).inc()
        return Published(
            event_id=envelope.metadata.event_id,
            topic=written.topic,
            partition=written.partition,
            offset=written.offset,
        )

    async def publish(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        campaign_id: str,
        user_id: str | None = None,
        connection_id: str | None = None,
        correlation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        attributes: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> Published:
        """Validate and write one event to the topic the manifest names for its type.

        ``event_id`` defaults to a new one; a caller retrying a write that may have landed
        passes the id of the first attempt, by which services deduplicate.
        """
        # Who may send it and where it goes first: a type this service may not send is
        # refused for that, not for its payload.
        topic = self._topic(event_type, broadcast=False)
        envelope = self.events.envelope(
            event_type,
            payload,
            campaign_id=campaign_id,
            user_id=user_id,
            connection_id=connection_id,
            correlation_id=correlation_id,
            traceparent=traceparent,
            tracestate=tracestate,
            attributes=attributes,
            event_id=event_id,
        )
        return await self._write(envelope, topic)

    async def broadcast(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        traceparent: str | None = None,
        tracestate: str | None = None,
        attributes: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> Published:
        """Validate and write one event to ``<prefix>.system``: every connection gets it."""
        topic = self._topic(event_type, broadcast=True)
        envelope = self.events.envelope(
            event_type,
            payload,
            campaign_id=BROADCAST_CAMPAIGN,
            traceparent=traceparent,
            tracestate=tracestate,
            attributes=attributes,
            event_id=event_id,
        )
        return await self._write(envelope, topic)
