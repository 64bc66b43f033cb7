"""The service SDK's spans: process is the child of the producer, the reply its grandchild,
failures are marked and dead-lettered, and the metrics count what happened."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry.trace import SpanKind, StatusCode
from tracing_fakes import FakeKafkaProducer, Spans, codec, fake_producer

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.kafka.records import record_headers, record_key
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Context, ServiceConfig
from nexus_mesh.service.dlq import DeadLetters
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.service.runner import Handler, Runner
from nexus_mesh.settings import default_schemas_dir
from nexus_mesh.tracing import format_traceparent

PRODUCER_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _runner(spans: Spans, the_codec: Codec, handler: Handler) -> tuple[Runner, FakeKafkaProducer]:
    producer, kafka = fake_producer(the_codec, spans.telemetry)
    topics = TopicNames(prefix="t")
    runner = Runner(
        name="search",
        topic="t.search",
        handlers={"search.requested": handler},
        config=ServiceConfig(retry_attempts=1),
        consumer=None,  # not consulted when records are handed over directly
        codec=the_codec,
        publisher=Publisher(
            registry=load_registry(default_schemas_dir()),
            codec=the_codec,
            producer=producer,
            topics=topics,
            source="search",
        ),
        dead_letters=DeadLetters(producer=producer, topic=topics.dlq, service="search"),
        log=logging.getLogger("test"),
        group_id="nexus.search",
        telemetry=spans.telemetry,
    )
    return runner, kafka


def _record(the_codec: Codec, *, value: bytes | None = None) -> ConsumerRecord[bytes, bytes]:
    request = Envelope(
        type="search.requested",
        payload=the_codec.payload_from_json("search.requested", {"query": "jazz"}),
        metadata=Metadata(
            event_id="ev-1",
            campaign_id="camp-1",
            source="gateway/gw",
            time=1_700_000_000_000,
            connection_id="conn-1",
            traceparent=PRODUCER_TRACEPARENT,
        ),
    )
    encoded = the_codec.encode(request) if value is None else value
    headers = record_headers(request)
    return ConsumerRecord(
        topic="t.search",
        partition=1,
        offset=41,
        timestamp=1_700_000_000_000,
        timestamp_type=0,
        key=record_key(request),
        value=encoded,
        checksum=None,
        serialized_key_size=6,
        serialized_value_size=len(encoded),
        headers=tuple(headers),
    )


def _sample(runner: Runner, name: str, **labels: str) -> float:
    value = runner.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_process_span_and_reply_chain(spans: Spans) -> None:
    the_codec = codec()

    async def handler(event: Envelope, ctx: Context) -> None:
        await ctx.reply("search.completed", {"query": "jazz", "hits": []})

    runner, kafka = _runner(spans, the_codec, handler)
    await runner._record(_record(the_codec))

    process = spans.named("process t.search")
    assert process.kind is SpanKind.CONSUMER
    assert process.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    attributes: dict[str, Any] = dict(process.attributes or {})
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "t.search",
        "messaging.destination.partition.id": "1",
        "messaging.kafka.offset": 41,
        "messaging.kafka.message.key": "camp-1",
        "messaging.consumer.group.name": "nexus.search",
        "messaging.message.id": "ev-1",
        "nexus.event.type": "search.requested",
        "nexus.campaign.id": "camp-1",
        "nexus.outcome": "handled",
    }
    reply = spans.named("send t.clients")
    assert reply.parent is not None and reply.parent.span_id == process.context.span_id
    assert reply.context.trace_id == process.context.trace_id
    (sent,) = kafka.sent
    assert the_codec.decode(sent.value).metadata.traceparent == format_traceparent(reply.context)
    assert (
        _sample(
            runner, "nexus_service_events_handled_total", service="search", type="search.requested"
        )
        == 1
    )


async def test_failing_handler_marks_the_span_and_dead_letters(spans: Spans) -> None:
    the_codec = codec()

    async def handler(event: Envelope, ctx: Context) -> None:
        raise RuntimeError("index unavailable")

    runner, kafka = _runner(spans, the_codec, handler)
    await runner._record(_record(the_codec))
    process = spans.named("process t.search")
    assert process.status.status_code is StatusCode.ERROR
    assert (process.attributes or {})["error.type"] == "RuntimeError"
    assert (process.attributes or {})["nexus.outcome"] == "dead_lettered"
    (exception,) = process.events
    assert (exception.attributes or {})["exception.message"] == "index unavailable"
    dlq = spans.named("send t.dlq")
    assert dlq.parent is not None and dlq.parent.span_id == process.context.span_id
    assert [sent.topic for sent in kafka.sent] == ["t.dlq"]
    assert _sample(runner, "nexus_service_dlq_total", service="search", reason="handler") == 1


async def test_undecodable_record_is_traced_from_its_headers(spans: Spans) -> None:
    the_codec = codec()

    async def handler(event: Envelope, ctx: Context) -> None:
        raise AssertionError("never called")

    runner, _ = _runner(spans, the_codec, handler)
    await runner._record(_record(the_codec, value=b"\x00garbage"))
    process = spans.named("process t.search")
    assert process.status.status_code is StatusCode.ERROR
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    assert (process.attributes or {})["nexus.event.type"] == "search.requested"
    assert _sample(runner, "nexus_service_dlq_total", service="search", reason="undecodable") == 1


async def test_duplicates_are_marked_and_counted(spans: Spans) -> None:
    the_codec = codec()
    calls = []

    async def handler(event: Envelope, ctx: Context) -> None:
        calls.append(event)

    runner, _ = _runner(spans, the_codec, handler)
    await runner._record(_record(the_codec))
    await runner._record(_record(the_codec))
    assert len(calls) == 1
    outcomes = [(s.attributes or {})["nexus.outcome"] for s in spans.finished()]
    assert outcomes == ["handled", "duplicate"]
    assert _sample(runner, "nexus_service_duplicates_total", service="search") == 1
