"""W3C trace context to and from Kafka headers and envelope metadata."""

from __future__ import annotations

from opentelemetry import trace

from nexus_mesh.envelope import Metadata
from nexus_mesh.tracing import (
    context_from_headers,
    context_from_metadata,
    context_from_traceparent,
    format_traceparent,
    trace_fields,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _span_context(context: object) -> trace.SpanContext:
    return trace.get_current_span(context).get_span_context()  # type: ignore[arg-type]


def test_traceparent_round_trip() -> None:
    context = context_from_traceparent(TRACEPARENT, "vendor=abc")
    assert context is not None
    span_context = _span_context(context)
    assert span_context.is_remote
    assert format_traceparent(span_context) == TRACEPARENT
    assert span_context.trace_state.get("vendor") == "abc"
    assert trace_fields(trace.NonRecordingSpan(span_context)) == (TRACEPARENT, "vendor=abc")


def test_absent_or_malformed_context_is_none() -> None:
    assert context_from_traceparent(None) is None
    assert context_from_traceparent("") is None
    assert context_from_traceparent("00-xyz-abc-01") is None
    assert context_from_traceparent("00-" + "0" * 32 + "-" + "0" * 16 + "-01") is None
    assert trace_fields(trace.INVALID_SPAN) is None


def test_headers_and_metadata() -> None:
    headers = [("ce_id", b"e1"), ("traceparent", TRACEPARENT.encode()), ("tracestate", b"a=1")]
    from_headers = context_from_headers(headers)
    assert from_headers is not None
    assert _span_context(from_headers).span_id == 0xB7AD6B7169203331
    assert context_from_headers([("ce_id", b"e1")]) is None
    assert context_from_headers(None) is None
    meta = Metadata(event_id="e", campaign_id="c", source="s", time=0, traceparent=TRACEPARENT)
    from_metadata = context_from_metadata(meta)
    assert from_metadata is not None
    assert _span_context(from_metadata).trace_id == 0x0AF7651916CD43DD8448EB211C80319C


def test_attribute_names_are_the_current_semantic_conventions() -> None:
    from opentelemetry.semconv._incubating.attributes import messaging_attributes as semconv

    from nexus_mesh.tracing import spans

    assert spans.MESSAGING_SYSTEM == semconv.MESSAGING_SYSTEM
    assert spans.MESSAGING_DESTINATION == semconv.MESSAGING_DESTINATION_NAME
    assert spans.MESSAGING_PARTITION == semconv.MESSAGING_DESTINATION_PARTITION_ID
    assert spans.MESSAGING_OFFSET == semconv.MESSAGING_KAFKA_OFFSET
    assert spans.MESSAGING_KEY == semconv.MESSAGING_KAFKA_MESSAGE_KEY
    assert spans.MESSAGING_OPERATION_TYPE == semconv.MESSAGING_OPERATION_TYPE
    assert spans.MESSAGING_MESSAGE_ID == semconv.MESSAGING_MESSAGE_ID
    assert spans.MESSAGING_CONSUMER_GROUP == semconv.MESSAGING_CONSUMER_GROUP_NAME
    assert semconv.MessagingSystemValues.KAFKA.value == spans.KAFKA
