"""The gateway's real ingress for tests that hand it frames without a socket or a broker, and
stand-ins for its producer that say what Kafka did with a write."""

from __future__ import annotations

from nexus_gateway.flows import FlowTracker
from nexus_gateway.idempotency import IdempotencyWindow
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir
from nexus_mesh.tracing import Telemetry

# Nothing listens there: a producer that gets as far as Kafka fails at once.
CLOSED_PORT = NexusSettings(kafka_bootstrap_servers="127.0.0.1:9")


class StandInProducer(EnvelopeProducer):
    """A producer that never reaches Kafka; a subclass's ``send`` plays what Kafka did."""

    def __init__(self, codec: Codec | None = None) -> None:
        if codec is None:
            codec = Codec(load_registry(default_schemas_dir()))
        super().__init__(settings=CLOSED_PORT, codec=codec, client_id="t")


def ingress(
    *,
    registry: Registry | None = None,
    codec: Codec | None = None,
    producer: EnvelopeProducer | None = None,
    flows: FlowTracker | None = None,
    metrics: GatewayMetrics | None = None,
    max_event_bytes: int = 4096,
    telemetry: Telemetry | None = None,
    answer_timeout_s: float = 10.0,
) -> Ingress:
    """The real ingress; its producer points at a closed port unless ``producer`` is given."""
    # ``is None``, not ``or``: an empty FlowTracker is falsy (it has a length).
    if registry is None:
        registry = load_registry(default_schemas_dir())
    if codec is None:
        codec = Codec(registry)
    return Ingress(
        registry=registry,
        codec=codec,
        producer=StandInProducer(codec) if producer is None else producer,
        topics=TopicNames(prefix="t"),
        flows=FlowTracker(lambda _pending: True) if flows is None else flows,
        idempotency=IdempotencyWindow(window_s=60, max_entries=10),
        metrics=GatewayMetrics() if metrics is None else metrics,
        source="gateway/test",
        max_event_bytes=max_event_bytes,
        telemetry=telemetry,
        answer_timeout_s=answer_timeout_s,
    )
