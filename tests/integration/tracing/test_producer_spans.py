"""The producer span of a write to the real broker: messaging attributes, its parent, and
the context the stored record carries."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from kafka_tail import read_back
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import TopicMissingError
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tracing import Telemetry, context_from_traceparent, format_traceparent
from span_capture import Spans, codec

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


async def test_send_span_attributes_and_stamped_context(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    request = _request()
    search = topics.domain("search")
    written = await producer.send(request, topic=search)
    span = spans.named(f"send {search}")
    assert span.kind is SpanKind.PRODUCER
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": search,
        "messaging.destination.partition.id": str(written.partition),
        "messaging.kafka.offset": written.offset,
        "messaging.kafka.message.key": "camp-1",
        "messaging.message.id": "ev-1",
        "nexus.event.type": "search.requested",
        "nexus.campaign.id": "camp-1",
    }
    # The stored record names the producer span as its parent, in the value and the headers.
    stored = await read_back(settings, written)
    expected = format_traceparent(span.context)
    assert codec().decode(stored.value).metadata.traceparent == expected
    assert header(list(stored.headers), "traceparent") == expected
    assert request.metadata.traceparent is None  # the caller's envelope is left alone


async def test_parent_is_the_current_span(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames
) -> None:
    with spans.telemetry.tracer.start_as_current_span("ws receive") as outer:
        # The current span wins over what the envelope carries.
        await producer.send(_request(CLIENT_TRACEPARENT), topic=topics.domain("search"))
    span = spans.named(f"send {topics.domain('search')}")
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


async def test_parent_from_the_envelope_outside_any_span(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames
) -> None:
    await producer.send(_request(CLIENT_TRACEPARENT), topic=topics.domain("search"))
    span = spans.named(f"send {topics.domain('search')}")
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331


async def test_without_tracing_the_context_passes_through(
    settings: NexusSettings, producer: EnvelopeProducer, topics: TopicNames
) -> None:
    untraced = EnvelopeProducer(
        settings=settings, codec=codec(), client_id="untraced", telemetry=Telemetry()
    )
    await untraced.start()
    try:
        written = await untraced.send(_request(CLIENT_TRACEPARENT), topic=topics.domain("search"))
    finally:
        await untraced.stop()
    stored = await read_back(settings, written)
    assert codec().decode(stored.value).metadata.traceparent == CLIENT_TRACEPARENT
    assert header(list(stored.headers), "traceparent") == CLIENT_TRACEPARENT


async def test_failed_write_marks_the_span(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames
) -> None:
    """A write Kafka cannot take (its topic does not exist) is refused, nothing written,
    and its span says why."""
    missing = f"{topics.prefix}.nowhere"
    with pytest.raises(TopicMissingError):
        await producer.send(_request(), topic=missing)
    span = spans.named(f"send {missing}")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"].endswith("TopicMissingError")
    assert [event.name for event in span.events] == ["exception"]


async def test_raw_send_keeps_headers_and_is_traced(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    headers = [("ce_type", b"search.requested"), ("traceparent", CLIENT_TRACEPARENT.encode())]
    written = await producer.send_raw(topic=topics.dlq, key=b"camp-1", value=b"x", headers=headers)
    stored = await read_back(settings, written)
    assert list(stored.headers) == headers
    span = spans.named(f"send {topics.dlq}")
    assert span.parent is not None
    assert context_from_traceparent(CLIENT_TRACEPARENT) is not None
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert (span.attributes or {})["nexus.event.type"] == "search.requested"
