"""The gateway's real ingress, for tests that hand it frames without a socket or a broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.flows import FlowTracker
from nexus_gateway.idempotency import IdempotencyWindow
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir
from nexus_mesh.tracing import Telemetry


@pytest.fixture
async def make_ingress() -> AsyncIterator[Callable[..., Ingress]]:
    """``make_ingress(codec=, metrics=, max_event_bytes=4096, telemetry=, answer_timeout_s=)``:
    an ingress whose
    producer points at a closed port, so a test must never get as far as writing."""

    def make(
        *,
        codec: Codec | None = None,
        metrics: GatewayMetrics | None = None,
        max_event_bytes: int = 4096,
        telemetry: Telemetry | None = None,
        answer_timeout_s: float = 10.0,
    ) -> Ingress:
        registry = load_registry(default_schemas_dir())
        codec = codec or Codec(registry)
        producers.append(
            EnvelopeProducer(
                settings=NexusSettings(kafka_bootstrap_servers="127.0.0.1:9"),
                codec=codec,
                client_id="t",
            )
        )
        return Ingress(
            registry=registry,
            codec=codec,
            producer=producers[-1],
            topics=TopicNames(prefix="t"),
            flows=FlowTracker(lambda _pending: True),
            idempotency=IdempotencyWindow(window_s=60, max_entries=10),
            metrics=metrics or GatewayMetrics(),
            source="gateway/test",
            max_event_bytes=max_event_bytes,
            telemetry=telemetry,
            answer_timeout_s=answer_timeout_s,
        )

    producers: list[EnvelopeProducer] = []
    yield make
    for producer in producers:
        await producer.stop()


@pytest.fixture
def connection() -> Connection:
    return Connection(
        identity=Identity(connection_id="c" * 32, campaign_id="A", user_id="u1"),
        ws=None,  # type: ignore[arg-type]  # never written to: answers are returned
        max_buffer_bytes=1024,
        abort=lambda: None,
    )
