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
from opentelemetry.trace import StatusCode
from prometheus_client import generate_latest

from nexus_gateway.connection import Connection
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir
from span_capture import Spans


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


@pytest.mark.parametrize("kind", ["sdk", "lean"])
async def test_only_the_gateway_s_own_trouble_marks_its_span_failed(
    make_ingress: Callable[..., Ingress], connection: Connection, kind: str
) -> None:
    """A client's mistake leaves the ``ws receive`` span unset, as a 4xx does an HTTP server
    span, and names its code; a fault of the gateway's marks it failed."""
    spans = Spans(kind)
    registry = load_registry(default_schemas_dir())
    sound = make_ingress(telemetry=spans.telemetry)
    buggy = make_ingress(codec=BuggyCodec(registry), telemetry=spans.telemetry)
    schema_invalid = {"type": "search", "payload": {"no_query": 1}}
    chat = {"type": "chat.message", "payload": {"text": "x"}}
    await sound.handle(connection, orjson.dumps(schema_invalid), allowed=True)
    await sound.handle(connection, b"{not json", allowed=True)
    await sound.handle(connection, orjson.dumps(chat), allowed=False, retry_after_s=1.0)
    sound.refuse_binary(connection, b"\x00", allowed=True)
    await buggy.handle(connection, orjson.dumps(chat), allowed=True)

    client, bad, limited, binary, fault = spans.finished()
    for span, code in [
        (client, "schema_invalid"),
        (bad, "bad_frame"),
        (limited, "rate_limited"),
        (binary, "bad_frame"),
    ]:
        attributes = dict(span.attributes or {})
        assert attributes["nexus.error.code"] == code
        assert span.status.status_code is StatusCode.UNSET, code
        assert "error.type" not in attributes and not span.events, code
    assert dict(fault.attributes or {})["nexus.error.code"] == "internal"
    assert dict(fault.attributes or {})["error.type"] == "internal"
    assert fault.status.status_code is StatusCode.ERROR
    assert [e.name for e in fault.events] == ["exception"]
