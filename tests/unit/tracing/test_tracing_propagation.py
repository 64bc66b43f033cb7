"""W3C trace context to and from Kafka headers and envelope metadata."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from nexus_mesh.envelope import Metadata
from nexus_mesh.tracing import (
    context_from_headers,
    context_from_metadata,
    context_from_traceparent,
    format_traceparent,
    trace_fields,
)
from nexus_mesh.tracing.propagation import with_sampled

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


def test_every_traceparent_is_read_as_the_w3c_propagator_reads_it() -> None:
    """The common version-00 form is parsed without the propagator; whatever the form, the
    parent must be the one OpenTelemetry's W3C propagator extracts (or none when it finds
    none)."""
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    zeros32, zeros16 = "0" * 32, "0" * 16
    values = [f"00-{trace_id}-{span_id}-{flags}" for flags in ("00", "01", "02", "03", "ff")] + [
        f"00-{zeros32}-{span_id}-01",
        f"00-{trace_id}-{zeros16}-01",
        f"00-{trace_id.upper()}-{span_id}-01",
        f"ff-{trace_id}-{span_id}-01",
        f"01-{trace_id}-{span_id}-01-future",
        f"00-{trace_id}-{span_id}-01-extra",
        f" 00-{trace_id}-{span_id}-01 ",
        f"00-{trace_id}-{span_id}-1",
        f"00-{trace_id[:-1]}-{span_id}-01",
    ]
    propagator = TraceContextTextMapPropagator()
    for value in values:
        for state in (None, "vendor=abc"):
            carrier = {"traceparent": value, **({"tracestate": state} if state else {})}
            expected = _span_context(propagator.extract(carrier))
            found = context_from_traceparent(value, state)
            if not expected.is_valid:
                assert found is None, value
                continue
            assert found is not None, value
            got = _span_context(found)
            assert (got, got.trace_state.to_header()) == (
                expected,
                expected.trace_state.to_header(),
            ), value
            assert got.is_remote and format_traceparent(got) == format_traceparent(expected)


def test_resampling_a_client_parent_changes_its_sampled_flag_only() -> None:
    client = context_from_traceparent(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", "vendor=x"
    )
    assert client is not None
    before = trace.get_current_span(client).get_span_context()
    after = trace.get_current_span(with_sampled(client, False)).get_span_context()
    assert (after.trace_id, after.span_id, after.is_remote) == (
        before.trace_id,
        before.span_id,
        True,
    )
    assert after.trace_state == before.trace_state
    assert after.trace_flags == 0x02, "the random-trace-id flag stays"
    assert with_sampled(client, True) is client, "nothing to change: the same context"
