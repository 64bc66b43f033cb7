"""Run a service's handler on one event without Kafka, for the author's own unit tests.

Everything but the broker is the service's real path: the registry check of the service,
payload validation against the schemas, the manifest's rules on who sends what where, the
ids of the events a handler sends. What the handler sends is kept in an :class:`Outbox`
instead of being written::

    async def test_greets() -> None:
        sent = await handle(service, "greeter.requested", {}, user_id="alice")
        assert [(s.type, s.payload["text"]) for s in sent] == [
            ("greeter.completed", "hello alice")
        ]

A handler that raises raises here too: the retries, dead letters and failure replies of a
running service are the runner's business, tested against a real broker.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata, new_event_id, now_ms
from nexus_mesh.errors import ConfigurationError
from nexus_mesh.kafka.producer import Written
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.service.app import Service
from nexus_mesh.service.context import Context, Origin
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import DEFAULT_TOPIC_PREFIX, default_schemas_dir


@dataclass(frozen=True, slots=True)
class Sent:
    """One event a handler sent, and the topic it would have gone to."""

    topic: str
    envelope: Envelope

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def payload(self) -> dict[str, Any]:
        return self.envelope.payload


class Outbox:
    """Keeps what is sent, in order, at offsets counted per topic."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, envelope: Envelope, *, topic: str) -> Written:
        offset = sum(1 for sent in self.sent if sent.topic == topic)
        self.sent.append(Sent(topic=topic, envelope=envelope))
        return Written(topic=topic, partition=0, offset=offset)


# A test suite calls handle() once per test: the schemas are read and compiled once.
@functools.cache
def _registry(directory: Path) -> Registry:
    return load_registry(directory)


@functools.cache
def _codec(registry: Registry) -> Codec:
    return Codec(registry)


async def handle(
    service: Service,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    campaign_id: str = "campaign-1",
    user_id: str | None = None,
    connection_id: str | None = "connection-1",
    correlation_id: str | None = None,
    registry: Registry | None = None,
) -> list[Sent]:
    """Hand ``service``'s handler one ``event_type`` event, as a gateway would have stamped
    it, and return what the handler sent. ``registry`` defaults to ``NEXUS_SCHEMAS_DIR``'s,
    else the shipped ``schemas/``."""
    if registry is None:
        configured = os.environ.get("NEXUS_SCHEMAS_DIR", "").strip()
        registry = _registry(Path(configured) if configured else default_schemas_dir())
    service.check(registry)
    handler = service.handlers.get(event_type)
    if handler is None:
        raise ConfigurationError(f"service {service.name} has no handler for {event_type}")
    codec = _codec(registry)
    topics = TopicNames(prefix=DEFAULT_TOPIC_PREFIX)
    event = Envelope(
        type=event_type,
        payload=codec.payload_from_json(event_type, dict(payload)),
        metadata=Metadata(
            event_id=new_event_id(),
            campaign_id=campaign_id,
            source="test",
            time=now_ms(),
            correlation_id=correlation_id,
            user_id=user_id,
            connection_id=connection_id,
        ),
    )
    outbox = Outbox()
    context = Context(
        event=event,
        origin=Origin(topic=topics.domain(service.domain), partition=0, offset=0),
        service=service.name,
        publisher=Publisher(
            registry=registry, codec=codec, producer=outbox, topics=topics, source=service.name
        ),
        log=logging.getLogger(f"nexus.service.{service.name}"),
    )
    context._begin_attempt()
    await handler(event, context)
    return outbox.sent
