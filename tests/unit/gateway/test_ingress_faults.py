"""A fault of the gateway's own while it handles one event costs that event its answer, not
the connection.

The fault is injected: a codec whose JSON conversion raises as a bug would (the real codec
answers every input with its own errors, so no frame can make it fail like this). The rest is
the gateway's real ingress, registry and metrics; the Kafka producer is never reached.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.flows import FlowTracker
from nexus_gateway.ingress import Ingress
from nexus_gateway.limits import IdempotencyWindow
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir


class BuggyCodec(Codec):
    def payload_from_json(self, event_type: str, value: Any) -> dict[str, Any]:
        raise OverflowError("a conversion bug")


async def test_a_bug_answers_internal_and_the_next_event_is_still_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = load_registry(default_schemas_dir())
    codec = BuggyCodec(registry)
    metrics = GatewayMetrics()
    ingress = Ingress(
        registry=registry,
        codec=codec,
        producer=EnvelopeProducer(
            settings=NexusSettings(kafka_bootstrap_servers="127.0.0.1:9"),
            codec=codec,
            client_id="t",
        ),
        topics=TopicNames(prefix="t"),
        flows=FlowTracker(lambda _pending: True),
        idempotency=IdempotencyWindow(window_s=60, max_entries=10),
        metrics=metrics,
        source="gateway/test",
        max_event_bytes=4096,
    )
    connection = Connection(
        identity=Identity(connection_id="c" * 32, campaign_id="A", user_id="u1"),
        ws=None,  # type: ignore[arg-type]  # never written to: answers are returned
        max_buffer_bytes=1024,
        abort=lambda: None,
    )
    frame = {"type": "chat.message", "payload": {"text": "x"}, "metadata": {"event_id": "e-1"}}

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(frame), allowed=True))
    # The ingress goes on: a bad frame after the fault gets its own, ordinary answer.
    after = orjson.loads(await ingress.handle(connection, b"{not json", allowed=True))

    assert answer["type"] == "nexus.error"
    assert answer["payload"]["code"] == "internal"
    assert answer["payload"]["event_id"] == "e-1"
    assert answer["payload"]["retryable"] is False
    # Untraced, an answer names no trace: there is none to look up.
    assert "traceparent" not in answer["metadata"]
    assert "OverflowError: a conversion bug" in caplog.text
    assert "event_id e-1" in caplog.text
    assert after["payload"]["code"] == "bad_frame"
    exposed = generate_latest(metrics.registry).decode()
    assert 'nexus_gateway_errors_total{code="internal"} 1.0' in exposed
