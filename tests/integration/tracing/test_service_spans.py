"""The service SDK's spans: process is the child of the producer, the reply its grandchild,
failures are marked and dead-lettered, and the metrics count what happened.

The request is a record read back from the real broker and handed to the service's record
handling as its consumer loop would hand it; the handler's replies and dead letters go to
the broker through the real producer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from kafka_tail import TopicTail, read_back
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import RetriableError
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.records import record_headers, record_key
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Context, ServiceConfig
from nexus_mesh.service.dlq import DeadLetters
from nexus_mesh.service.handling import Handler, RecordAbandoned, RecordHandling, ServiceStats
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import NexusSettings, default_schemas_dir
from nexus_mesh.tracing import format_traceparent
from nexus_testkit import eventually
from span_capture import Spans, codec

PRODUCER_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _handling(
    spans: Spans,
    producer: EnvelopeProducer,
    topics: TopicNames,
    handler: Handler,
    config: ServiceConfig | None = None,
) -> tuple[RecordHandling, ServiceMetrics]:
    """The search service's record handling, and the metrics it counts into."""
    the_codec = codec()
    metrics = ServiceMetrics(service="search")
    handling = RecordHandling(
        name="search",
        handlers={"search.requested": handler},
        config=config or ServiceConfig(retry_attempts=1),
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
        metrics=metrics,
        stats=ServiceStats(),
    )
    return handling, metrics


async def _record(
    settings: NexusSettings, topics: TopicNames, *, value: bytes | None = None
) -> ConsumerRecord[bytes, bytes]:
    """A request as the gateway's producer span left it, stored in Kafka and read back."""
    the_codec = codec()
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
    # Untraced, so the record keeps the traceparent the gateway's span gave it.
    gateway = EnvelopeProducer(settings=settings, codec=the_codec, client_id="gateway")
    await gateway.start()
    try:
        written = await gateway.send_raw(
            topic=topics.domain("search"),
            key=record_key(request),
            value=the_codec.encode(request) if value is None else value,
            headers=record_headers(request),
        )
    finally:
        await gateway.stop()
    return await read_back(settings, written)


async def _written(
    settings: NexusSettings, topic: str, partitions: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything ``topic`` holds now."""
    async with TopicTail(settings, topic, partitions) as tail:
        await eventually(tail.caught_up, what=f"{topic} read to its end")
        return list(tail.records)


async def _processed(
    spans: Spans,
    producer: EnvelopeProducer,
    topics: TopicNames,
    settings: NexusSettings,
    handler: Handler,
    *,
    value: bytes | None = None,
) -> tuple[ServiceMetrics, ReadableSpan]:
    """``handler`` handed one request from Kafka: the metrics, and its ``process`` span."""
    handling, metrics = _handling(spans, producer, topics, handler)
    await handling.handle(await _record(settings, topics, value=value))
    return metrics, spans.named(f"process {topics.domain('search')}")


def _sample(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_process_span_and_reply_chain(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    the_codec = codec()

    async def handler(event: Envelope, ctx: Context) -> None:
        await ctx.reply("search.completed", {"query": "jazz", "hits": []})

    metrics, process = await _processed(spans, producer, topics, settings, handler)
    search = topics.domain("search")
    assert process.kind is SpanKind.CONSUMER
    assert process.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    attributes: dict[str, Any] = dict(process.attributes or {})
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": search,
        "messaging.destination.partition.id": str(
            campaign_partition("camp-1", settings.domain_partitions)
        ),
        "messaging.kafka.offset": 0,
        "messaging.kafka.message.key": "camp-1",
        "messaging.consumer.group.name": "nexus.search",
        "messaging.message.id": "ev-1",
        "nexus.event.type": "search.requested",
        "nexus.campaign.id": "camp-1",
        "nexus.outcome": "handled",
    }
    reply = spans.named(f"send {topics.clients}")
    assert reply.parent is not None and reply.parent.span_id == process.context.span_id
    assert reply.context.trace_id == process.context.trace_id
    (sent,) = await _written(settings, topics.clients, settings.clients_partitions)
    assert the_codec.decode(sent.value).metadata.traceparent == format_traceparent(reply.context)
    assert (
        _sample(
            metrics, "nexus_service_events_handled_total", service="search", type="search.requested"
        )
        == 1
    )


async def test_a_handler_s_own_span_joins_the_request_s_trace(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    """A span the handler starts with ``ctx.tracer`` (its lookup in a database, say) is a
    child of the record's ``process`` span, under the service's own instrumentation scope,
    and the reply sent inside it is its child: the operator sees where the handler spent
    its time."""

    async def handler(event: Envelope, ctx: Context) -> None:
        with ctx.tracer.start_as_current_span("look up the index") as span:
            span.set_attribute("index.name", "songs")
            await ctx.reply("search.completed", {"query": "jazz", "hits": []})

    _, process = await _processed(spans, producer, topics, settings, handler)
    own = spans.named("look up the index")
    assert own.parent is not None and own.parent.span_id == process.context.span_id
    assert own.context.trace_id == process.context.trace_id
    assert own.instrumentation_scope is not None
    assert own.instrumentation_scope.name == "nexus.service.search"
    assert dict(own.attributes or {}) == {"index.name": "songs"}
    reply = spans.named(f"send {topics.clients}")
    assert reply.parent is not None and reply.parent.span_id == own.context.span_id


async def test_failing_handler_marks_the_span_and_dead_letters(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    async def handler(event: Envelope, ctx: Context) -> None:
        raise RuntimeError("index unavailable")

    metrics, process = await _processed(spans, producer, topics, settings, handler)
    assert process.status.status_code is StatusCode.ERROR
    assert (process.attributes or {})["error.type"] == "RuntimeError"
    assert (process.attributes or {})["nexus.outcome"] == "dead_lettered"
    (exception,) = process.events
    assert (exception.attributes or {})["exception.message"] == "index unavailable"
    dlq = spans.named(f"send {topics.dlq}")
    assert dlq.parent is not None and dlq.parent.span_id == process.context.span_id
    assert len(await _written(settings, topics.dlq, settings.dlq_partitions)) == 1
    assert await _written(settings, topics.clients, settings.clients_partitions) == [], (
        "no reply from a failed handler"
    )
    assert _sample(metrics, "nexus_service_dlq_total", service="search", reason="handler") == 1


async def test_a_record_given_up_for_the_next_owner_is_not_an_error(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    """A rebalance while the handler waits to be retried: the record is left to the
    partition's next owner, and the span says so instead of reporting a failure. The retry's
    event masks credentials as logs do."""
    partition_kept = True

    async def handler(event: Envelope, ctx: Context) -> None:
        nonlocal partition_kept
        partition_kept = False  # the rebalance lands while this attempt fails
        raise RetriableError("connect to postgres://app:hunter2@db failed: password=hunter2")

    handling, _metrics = _handling(
        spans, producer, topics, handler, ServiceConfig(retry_attempts=3, retry_backoff_s=0)
    )
    with pytest.raises(RecordAbandoned):
        await handling.handle(await _record(settings, topics), current=lambda: partition_kept)
    process = spans.named(f"process {topics.domain('search')}")
    assert process.status.status_code is StatusCode.UNSET
    assert (process.attributes or {})["nexus.outcome"] == "abandoned"
    assert "error.type" not in (process.attributes or {})
    (retry,) = process.events
    assert retry.name == "retry"
    retry_attributes = dict(retry.attributes or {})
    assert retry_attributes["exception.type"] == "RetriableError"
    assert "hunter2" not in str(retry_attributes["exception.message"])
    assert await _written(settings, topics.dlq, settings.dlq_partitions) == [], (
        "given up, not dead-lettered"
    )


async def test_undecodable_record_is_traced_from_its_headers(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    async def handler(event: Envelope, ctx: Context) -> None:
        raise AssertionError("never called")

    metrics, process = await _processed(
        spans, producer, topics, settings, handler, value=b"\x00garbage"
    )
    assert process.status.status_code is StatusCode.ERROR
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    assert (process.attributes or {})["nexus.event.type"] == "search.requested"
    assert _sample(metrics, "nexus_service_dlq_total", service="search", reason="undecodable") == 1
    (dead,) = await _written(settings, topics.dlq, settings.dlq_partitions)
    assert dead.value == b"\x00garbage", "the dead letter keeps the record as it came"


async def test_duplicates_are_marked_and_counted(
    spans: Spans, producer: EnvelopeProducer, topics: TopicNames, settings: NexusSettings
) -> None:
    """The same request written twice (a gateway's retry): handled once."""
    calls = []

    async def handler(event: Envelope, ctx: Context) -> None:
        calls.append(event)

    handling, metrics = _handling(spans, producer, topics, handler)
    await handling.handle(await _record(settings, topics))
    await handling.handle(await _record(settings, topics))
    assert len(calls) == 1
    processed = [s for s in spans.finished() if s.name.startswith("process ")]
    outcomes = [(s.attributes or {})["nexus.outcome"] for s in processed]
    assert outcomes == ["handled", "duplicate"]
    assert _sample(metrics, "nexus_service_duplicates_total", service="search") == 1
