"""The producer span: messaging attributes, its parent, and the context it writes out."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from opentelemetry.trace import SpanKind, StatusCode
from tracing_fakes import Spans, codec, fake_producer

from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import KafkaUnavailableError
from nexus_mesh.kafka.records import header
from nexus_mesh.tracing import Telemetry, context_from_traceparent, format_traceparent

CLIENT_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _request(traceparent: str | None = None) -> Envelope:
    return Envelope(
        type="search.requested",
        payload=codec().payload_from_json("search.requested", {"query": "jazz"}),
        metadata=Metadata(
            event_id="ev-1",
            campaign_id="camp-1",
            source="test",
            time=1_700_000_000_000,
            traceparent=traceparent,
        ),
    )


async def test_send_span_attributes_and_stamped_context(spans: Spans) -> None:
    the_codec = codec()
    producer, kafka = fake_producer(the_codec, spans.telemetry)
    request = _request()
    written = await producer.send(request, topic="t.search")
    span = spans.named("send t.search")
    assert span.kind is SpanKind.PRODUCER
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "t.search",
        "messaging.destination.partition.id": str(written.partition),
        "messaging.kafka.offset": written.offset,
        "messaging.kafka.message.key": "camp-1",
        "messaging.message.id": "ev-1",
        "nexus.event.type": "search.requested",
        "nexus.campaign.id": "camp-1",
    }
    # The record names the producer span as its parent, in the value and in the headers.
    expected = format_traceparent(span.context)
    assert the_codec.decode(kafka.sent[0].value).metadata.traceparent == expected
    assert header(kafka.sent[0].headers, "traceparent") == expected
    assert request.metadata.traceparent is None  # the caller's envelope is left alone


async def test_parent_is_the_current_span(spans: Spans) -> None:
    producer, _ = fake_producer(codec(), spans.telemetry)
    with spans.telemetry.tracer.start_as_current_span("ws receive") as outer:
        # The current span wins over what the envelope carries.
        await producer.send(_request(CLIENT_TRACEPARENT), topic="t.search")
    span = spans.named("send t.search")
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


async def test_parent_from_the_envelope_outside_any_span(spans: Spans) -> None:
    producer, _ = fake_producer(codec(), spans.telemetry)
    await producer.send(_request(CLIENT_TRACEPARENT), topic="t.search")
    span = spans.named("send t.search")
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331


async def test_without_tracing_the_context_passes_through() -> None:
    the_codec = codec()
    producer, kafka = fake_producer(the_codec, Telemetry())
    await producer.send(_request(CLIENT_TRACEPARENT), topic="t.search")
    assert the_codec.decode(kafka.sent[0].value).metadata.traceparent == CLIENT_TRACEPARENT
    assert header(kafka.sent[0].headers, "traceparent") == CLIENT_TRACEPARENT


async def test_failed_write_marks_the_span(spans: Spans) -> None:
    producer, kafka = fake_producer(codec(), spans.telemetry)
    kafka.fail_with = KafkaConnectionError("broker down")
    with pytest.raises(KafkaUnavailableError):
        await producer.send(_request(), topic="t.search")
    span = spans.named("send t.search")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"].endswith("KafkaUnavailableError")
    assert [event.name for event in span.events] == ["exception"]


async def test_raw_send_keeps_headers_and_is_traced(spans: Spans) -> None:
    producer, kafka = fake_producer(codec(), spans.telemetry)
    headers = [("ce_type", b"search.requested"), ("traceparent", CLIENT_TRACEPARENT.encode())]
    await producer.send_raw(topic="t.dlq", key=b"camp-1", value=b"x", headers=headers)
    assert kafka.sent[0].headers == headers
    span = spans.named("send t.dlq")
    assert span.parent is not None
    parent = context_from_traceparent(CLIENT_TRACEPARENT)
    assert parent is not None
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert (span.attributes or {})["nexus.event.type"] == "search.requested"
