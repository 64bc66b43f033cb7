"""A fault of the gateway's own while it handles one event costs that event its answer, not
the connection.

The fault is injected: a codec whose JSON conversion raises as a bug would (the real codec
answers every input with its own errors, so no frame can make it fail like this). The rest is
the gateway's real ingress, registry and metrics; the Kafka producer is never reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from nexus_gateway.connection import Connection
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir


class BuggyCodec(Codec):
    def payload_from_json(self, event_type: str, value: Any) -> dict[str, Any]:
        raise OverflowError("a conversion bug")


async def test_a_bug_answers_internal_and_the_next_event_is_still_read(
    caplog: pytest.LogCaptureFixture, make_ingress: Callable[..., Ingress], connection: Connection
) -> None:
    metrics = GatewayMetrics()
    ingress = make_ingress(codec=BuggyCodec(load_registry(default_schemas_dir())), metrics=metrics)
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
