"""JSON log lines: one object per record, trace and span ids, credentials masked."""

from __future__ import annotations

import json
import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from nexus_mesh.logs import JsonFormatter, RedactingFormatter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("nexus.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_object_with_trace_ids_inside_a_span() -> None:
    formatter = JsonFormatter(service="nexus-gateway")
    outside = json.loads(formatter.format(_record("hello %s", "world", campaign="c1")))
    assert outside["message"] == "hello world"
    assert outside["level"] == "INFO"
    assert outside["logger"] == "nexus.test"
    assert outside["service"] == "nexus-gateway"
    assert outside["campaign"] == "c1"
    assert "trace_id" not in outside
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("ws receive") as span:
        inside = json.loads(formatter.format(_record("in a span")))
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"


def test_exceptions_are_one_field() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError" in line["exception"]
    assert JWT not in line["exception"]


def test_credentials_never_reach_the_output() -> None:
    texts = [
        f"GET /ws/c/u?token={JWT}&since=x",
        f"Authorization: Bearer {JWT}",
        "Sec-WebSocket-Protocol: bearer.opaque-token-value",
        "connect with password=hunter2 and secret=s3cr3t",
        f"a token inside text {JWT}.",
    ]
    for text in texts:
        masked = redact(text)
        for secret in (JWT, "opaque-token-value", "hunter2", "s3cr3t"):
            assert secret not in masked, masked
    assert redact("GET /ws/c/u?since=abc") == "GET /ws/c/u?since=abc"
    line = json.loads(JsonFormatter().format(_record("token %s", JWT, header=f"Bearer {JWT}")))
    assert JWT not in json.dumps(line)
    text = RedactingFormatter("%(message)s").format(_record(f"?token={JWT}"))
    assert JWT not in text
