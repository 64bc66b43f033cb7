"""One trace per interaction, across real gateway and search-service processes.

Both processes export OTLP/HTTP to a real receiver started here, which decodes the
``ExportTraceServiceRequest`` protobufs; the test then follows the search round trip from
``ws receive`` to ``ws send`` through Kafka (DESIGN.md section 8).
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from clients_topic import campaign_update, write
from mesh_processes import Mesh, MeshProcess
from nexus_mesh.client import MeshClient, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import (
    eventually,
    gateway_connections,
    gateway_stats,
    metric_value,
    schemas_with_flow_timeout,
    scrape_metrics,
)
from otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    async with otlp_receiver() as started:
        yield started


def traced_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


async def traced_mesh(mesh: Mesh, receiver: OtlpReceiver) -> MeshProcess:
    gateway = mesh.gateway(**traced_env(receiver))
    mesh.service("search", **traced_env(receiver))
    assert gateway.url
    return gateway


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def one(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, f"expected one {what}, got {spans}"
    return spans[0]


async def round_trip_spans(
    receiver: OtlpReceiver, trace_id: str, prefix: str
) -> dict[str, ReceivedSpan]:
    names = [
        "ws receive",
        f"send {prefix}.search",
        f"process {prefix}.search",
        f"send {prefix}.clients",
        f"process {prefix}.clients",
        "ws send",
    ]

    async def complete() -> dict[str, ReceivedSpan] | None:
        found = {name: receiver.named(trace_id, name) for name in names}
        if all(found.values()):
            return {name: one(spans, name) for name, spans in found.items()}
        return None

    return await eventually(complete, timeout=30, what=f"all six spans of trace {trace_id}")


def assert_round_trip(spans: dict[str, ReceivedSpan], prefix: str) -> None:
    receive = spans["ws receive"]
    request_sent = spans[f"send {prefix}.search"]
    processed = spans[f"process {prefix}.search"]
    reply_sent = spans[f"send {prefix}.clients"]
    reply_consumed = spans[f"process {prefix}.clients"]
    delivered = spans["ws send"]

    # One trace, and the parent chain from ws receive to ws send.
    assert len({span.trace_id for span in spans.values()}) == 1
    chain = [receive, request_sent, processed, reply_sent, reply_consumed, delivered]
    for parent, child in itertools.pairwise(chain):
        assert child.parent_span_id == parent.span_id, f"{child.name} is not under {parent.name}"

    # Spans from both services.
    assert {receive.service, request_sent.service, reply_consumed.service, delivered.service} == {
        "nexus-gateway"
    }
    assert {processed.service, reply_sent.service} == {"nexus-search"}
    assert [span.kind for span in chain] == [
        "SERVER",
        "PRODUCER",
        "CONSUMER",
        "PRODUCER",
        "CONSUMER",
        "PRODUCER",
    ]

    # Messaging semantic conventions on every Kafka span; event type and campaign besides.
    for span, topic, operation, event_type in [
        (request_sent, f"{prefix}.search", "send", "search.requested"),
        (processed, f"{prefix}.search", "process", "search.requested"),
        (reply_sent, f"{prefix}.clients", "send", "search.completed"),
        (reply_consumed, f"{prefix}.clients", "process", "search.completed"),
    ]:
        attributes = span.attributes
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.destination.name"] == topic
        assert attributes["messaging.operation.type"] == operation
        assert attributes["messaging.operation.name"] == operation
        assert attributes["messaging.kafka.message.key"] == "acme"
        assert attributes["messaging.destination.partition.id"].isdigit()
        assert isinstance(attributes["messaging.kafka.offset"], int)
        assert attributes["nexus.event.type"] == event_type
        assert attributes["nexus.campaign.id"] == "acme"
        assert span.status != "ERROR"
    assert processed.attributes["messaging.consumer.group.name"] == f"{prefix}.search"
    assert processed.attributes["nexus.outcome"] == "handled"
    # The service consumed exactly the record the gateway wrote, and vice versa.
    for sent, consumed in [(request_sent, processed), (reply_sent, reply_consumed)]:
        for name in ("messaging.destination.partition.id", "messaging.kafka.offset"):
            assert sent.attributes[name] == consumed.attributes[name]
    assert receive.attributes["nexus.event.type"] == "search.requested"
    assert receive.attributes["nexus.campaign.id"] == "acme"
    assert delivered.attributes["nexus.delivery.targets"] == 1
    assert delivered.attributes["nexus.delivery.sent"] == 1


async def test_search_round_trip_is_one_trace(mesh: Mesh, receiver: OtlpReceiver) -> None:
    gateway = await traced_mesh(mesh, receiver)
    assert gateway.url
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="alice", token=mesh.token("alice", ["acme"])
    ) as client:
        reply = await client.request("search", {"query": "password reset"})
        ack = await client.emit("chat.message", {"text": "and this one?"})
    assert reply.type == "search.completed"
    # The delivered reply names its producer span: the client can find the trace.
    traceparent = reply.metadata["traceparent"]
    spans = await round_trip_spans(receiver, trace_id_of(traceparent), mesh.prefix)
    # So does an ack: the event's ws receive span, whose trace holds its write to Kafka.
    assert ack.traceparent is not None
    acked_trace = trace_id_of(ack.traceparent)

    async def acked_span() -> list[ReceivedSpan]:
        return receiver.named(acked_trace, "ws receive")

    (acked,) = await eventually(acked_span, what="the acked event's ws receive span")
    _, trace_id, span_id, flags = ack.traceparent.split("-")
    assert (trace_id, span_id) == (acked.trace_id, acked.span_id)
    assert int(flags, 16) & 1, "sampled"
    assert acked.attributes["nexus.event.type"] == "chat.message"
    assert spans["ws receive"].parent_span_id == ""  # the trace starts at the gateway
    assert traceparent.split("-")[2] == spans[f"send {mesh.prefix}.clients"].span_id
    assert_round_trip(spans, mesh.prefix)
    # Nothing lost on the way to the collector, and the operator can see that it was not.
    metrics = await scrape_metrics(gateway.url)
    for reason in ("queue_full", "export_failed", "rejected"):
        assert metric_value(metrics, "nexus_gateway_spans_dropped_total", reason=reason) == 0


@pytest.mark.parametrize(
    ("sampler", "sent_flags", "recorded"),
    [
        # A client's traceparent starts the trace at the client...
        ({}, "01", True),
        # ...and with the default sampler a client that does not sample its own trace
        # cannot hide its events from the operator's...
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, "00", True),
        # ...nor one that samples everything force its events into traces sampled at 0%.
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
            "01",
            False,
        ),
    ],
    ids=["client-starts-the-trace", "unsampled-client-recorded", "sampled-client-not-forced"],
)
async def test_a_client_traceparent_starts_the_trace_the_gateway_samples(
    mesh: Mesh,
    receiver: OtlpReceiver,
    sampler: dict[str, str],
    sent_flags: str,
    recorded: bool,
) -> None:
    """The client's trace id and span start the trace; its sampled flag is not trusted
    (it is on the far side of the trust boundary): the gateway's sampler decides."""
    env = {**traced_env(receiver), **sampler}
    gateway = mesh.gateway(**env)
    mesh.service("search", **env)
    assert gateway.url
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="bob", token=mesh.token("bob", ["acme"])
    ) as client:
        reply = await client.request(
            "search", {"query": "invoice"}, traceparent=f"00-{trace_id}-{client_span}-{sent_flags}"
        )
    version, replied_trace, _, flags = reply.metadata["traceparent"].split("-")
    assert (version, replied_trace) == ("00", trace_id), "the client's trace goes on"
    assert int(flags, 16) & 1 == int(recorded)
    if recorded:
        spans = await round_trip_spans(receiver, trace_id, mesh.prefix)
        assert spans["ws receive"].parent_span_id == client_span
        assert_round_trip(spans, mesh.prefix)


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "tracing-off"])
async def test_a_client_s_tracestate_goes_on_with_its_trace(
    mesh: Mesh, receiver: OtlpReceiver, traced: bool
) -> None:
    """W3C: who continues a trace passes its tracestate on. The client's vendors' state
    reaches the service and comes back on the reply, traced or not; an invalid one is
    dropped, not refused."""
    env = traced_env(receiver) if traced else {"OTEL_SDK_DISABLED": "true"}
    gateway = mesh.gateway(**env)
    mesh.service("search", **env)
    assert gateway.url
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="erin", token=mesh.token("erin", ["acme"])
    ) as client:
        reply = await client.request(
            "search", {"query": "invoice"}, traceparent=traceparent, tracestate="congo=t61rcWkgMzE"
        )
        plain = await client.request(
            "search", {"query": "invoice"}, traceparent=traceparent, tracestate="not a state!"
        )
    assert reply.metadata["traceparent"].split("-")[1] == trace_id
    assert reply.metadata["tracestate"] == "congo=t61rcWkgMzE"
    assert plain.type == "search.completed" and "tracestate" not in plain.metadata


async def test_a_client_cannot_pick_its_sampling_by_its_trace_id(
    mesh: Mesh, receiver: OtlpReceiver
) -> None:
    """A ratio sampler decides by the id it is shown: shown the client's own trace id, a
    client would pick the outcome by picking the id (a low one is always sampled). With a
    ratio of one half, twenty events under the lowest trace id must be decided both ways
    (the odds of twenty draws agreeing are two in a million)."""
    env = {
        **traced_env(receiver),
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
    }
    gateway = mesh.gateway(**env)
    assert gateway.url
    lowest = "0" * 31 + "1"
    flags: set[str] = set()
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="gina", token=mesh.token("gina", ["acme"])
    ) as client:
        for _ in range(20):
            await client.emit(
                "chat.message",
                {"text": "pick me"},
                traceparent=f"00-{lowest}-{secrets.token_hex(8)}-01",
            )
            delivered = await client.next_event(timeout=15)
            version, trace_id, _, flag = delivered.metadata["traceparent"].split("-")
            assert (version, trace_id) == ("00", lowest), "the client's trace goes on"
            flags.add(flag)
    assert flags == {"00", "01"}, f"every event decided the same way: {flags}"


async def test_a_refused_event_s_span_names_its_code(mesh: Mesh, receiver: OtlpReceiver) -> None:
    """A client's mistake is not the gateway's failure: its span is not marked failed (no
    error-rate alert fires for one client's bad frames), and says what was refused."""
    gateway = await traced_mesh(mesh, receiver)
    assert gateway.url
    trace_id, forbidden_trace = secrets.token_hex(16), secrets.token_hex(16)
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="carol", token=mesh.token("carol", ["acme"])
    ) as client:
        with pytest.raises(MeshError) as refused:
            await client.emit(
                "search", {"no_query": 1}, traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01"
            )
        with pytest.raises(MeshError) as forbidden:
            await client.emit(
                "search.completed",
                {"query": "x", "hits": []},
                traceparent=f"00-{forbidden_trace}-{secrets.token_hex(8)}-01",
            )
    assert refused.value.code == "schema_invalid"
    assert forbidden.value.code == "forbidden_type"

    async def receive_span() -> ReceivedSpan | None:
        spans = receiver.named(trace_id, "ws receive")
        return spans[0] if spans else None

    span = await eventually(receive_span, what="the refused event's ws receive span")
    # The error names the span that says why, as an ack names its event's.
    assert (refused.value.traceparent or "").split("-")[1:3] == [trace_id, span.span_id]
    assert span.status == "UNSET"
    assert span.attributes["nexus.error.code"] == "schema_invalid"
    assert "error.type" not in span.attributes
    assert span.events == ()
    # Refused before Kafka: the trace has no producer span.
    assert [s.name for s in receiver.trace(trace_id)] == ["ws receive"]

    async def forbidden_span() -> ReceivedSpan | None:
        spans = receiver.named(forbidden_trace, "ws receive")
        return spans[0] if spans else None

    # Refused before it was resolved to a target, it still says what it claimed to be.
    span = await eventually(forbidden_span, what="the forbidden event's ws receive span")
    assert span.attributes["nexus.error.code"] == "forbidden_type"
    assert span.attributes["nexus.event.type"] == "search.completed"


async def test_a_gateway_made_timeout_joins_the_request_trace(
    mesh: Mesh, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """No search service runs: the timeout event the gateway makes itself is delivered under
    a ``ws send`` span in the request's trace, marked as an error, and its metadata names
    that span so the client can find the trace."""
    schemas = schemas_with_flow_timeout(tmp_path, 300)
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(schemas), **traced_env(receiver))
    assert gateway.url
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="dave", token=mesh.token("dave", ["acme"])
    ) as client:
        reply = await client.request(
            "search", {"query": "jazz"}, traceparent=f"00-{trace_id}-{client_span}-01", timeout=10
        )
    assert reply.type == "search.timeout"
    assert trace_id_of(reply.metadata["traceparent"]) == trace_id

    async def both() -> tuple[ReceivedSpan, ReceivedSpan] | None:
        receive, send = receiver.named(trace_id, "ws receive"), receiver.named(trace_id, "ws send")
        return (receive[0], send[0]) if receive and send else None

    receive, delivered = await eventually(both, what="the timed-out request's spans")
    assert receive.parent_span_id == client_span
    assert delivered.parent_span_id == receive.span_id
    assert reply.metadata["traceparent"].split("-")[2] == delivered.span_id
    assert delivered.status == "ERROR"
    assert delivered.attributes["nexus.outcome"] == "timeout"
    assert delivered.attributes["nexus.event.type"] == "search.timeout"
    assert delivered.attributes["nexus.delivery.targets"] == 1
    assert delivered.attributes["nexus.delivery.sent"] == 1
    assert delivered.attributes["error.type"] == "timeout"


async def test_a_timeout_whose_client_is_away_ends_the_request_trace(
    mesh: Mesh, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The client sent its request and left before the timeout fired: the event is owed,
    not sent, and the trace says so (a ``ws send`` that reached nobody) instead of stopping
    at the producer span."""
    # Long enough for the client's leaving to reach the gateway first, on a loaded machine.
    schemas = schemas_with_flow_timeout(tmp_path, 3000)
    gateway = mesh.gateway(NEXUS_SCHEMAS_DIR=str(schemas), **traced_env(receiver))
    assert gateway.url and gateway.admin_url
    admin_url = gateway.admin_url
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="erin", token=mesh.token("erin", ["acme"])
    ) as client:
        await client.emit(
            "search", {"query": "jazz"}, traceparent=f"00-{trace_id}-{client_span}-01"
        )

    async def left() -> bool:
        return await gateway_connections(admin_url) == 0

    await eventually(left, what="the client to leave the gateway")
    pending = (await gateway_stats(admin_url))["pending_requests"]
    assert pending == 1, "the timeout fired before the client left"

    async def both() -> tuple[ReceivedSpan, ReceivedSpan] | None:
        receive, send = receiver.named(trace_id, "ws receive"), receiver.named(trace_id, "ws send")
        return (receive[0], send[0]) if receive and send else None

    receive, missed = await eventually(both, what="the missed timeout's span")
    assert missed.parent_span_id == receive.span_id
    assert missed.status == "ERROR"
    assert missed.attributes["nexus.outcome"] == "timeout"
    assert missed.attributes["nexus.event.type"] == "search.timeout"
    assert missed.attributes["nexus.delivery.targets"] == 0
    assert missed.attributes["nexus.delivery.sent"] == 0


async def test_an_event_replayed_to_a_resumed_connection_ends_its_trace(
    mesh: Mesh, receiver: OtlpReceiver
) -> None:
    """An event its client missed while away reaches it in the replay of its resume; that
    delivery is traced as a live one: ``process`` under the producer span, then ``ws send``
    naming the resumed connection."""
    gateway = mesh.gateway(**traced_env(receiver))
    assert gateway.url
    url = gateway.url

    def connect(user: str, since: str | None = None) -> MeshClient:
        return MeshClient.connect(
            url, campaign_id="acme", user_id=user, token=mesh.token(user, ["acme"]), since=since
        )

    trace_id = secrets.token_hex(16)
    async with connect("bob") as bob:
        async with connect("alice") as alice:
            await bob.emit("chat.message", {"text": "before"})
            assert (await alice.next_event(timeout=15)).payload["text"] == "before"
            position = alice.position
        await bob.emit(
            "chat.message",
            {"text": "while away"},
            traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01",
        )
        # Delivered here already (bob has his own copy): alice's resume must replay it, not
        # receive it live.
        texts = [(await bob.next_event(timeout=15)).payload["text"] for _ in range(2)]
        assert texts == ["before", "while away"]
        async with connect("alice", since=position) as again:
            assert again.welcome["recovered"] is True
            assert (await again.next_event(timeout=15)).payload["text"] == "while away"
            resumed = again.welcome["connection_id"]

    async def replayed() -> ReceivedSpan | None:
        sends = [
            span
            for span in receiver.named(trace_id, "ws send")
            if span.attributes.get("nexus.connection.id") == resumed
        ]
        return sends[0] if sends else None

    delivered = await eventually(replayed, timeout=30, what="the replay's ws send span")
    assert delivered.attributes["nexus.delivery.sent"] == 1
    processed = one(
        [
            span
            for span in receiver.named(trace_id, f"process {mesh.prefix}.clients")
            if span.span_id == delivered.parent_span_id
        ],
        "process span above the replay's ws send",
    )
    sent = one(receiver.named(trace_id, f"send {mesh.prefix}.clients"), "producer span")
    assert processed.parent_span_id == sent.span_id
    assert (
        processed.attributes["messaging.kafka.offset"] == sent.attributes["messaging.kafka.offset"]
    )
    # Told apart from the live delivery of the same record (to bob) by its attribute.
    assert processed.attributes["nexus.delivery.replay"] is True
    live = [
        span
        for span in receiver.named(trace_id, f"process {mesh.prefix}.clients")
        if span.span_id != processed.span_id
    ]
    assert live and all("nexus.delivery.replay" not in span.attributes for span in live)


async def test_a_refused_binary_frame_is_traced_like_any_refusal(
    mesh: Mesh, receiver: OtlpReceiver
) -> None:
    gateway = await traced_mesh(mesh, receiver)
    assert gateway.url
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="frank", token=mesh.token("frank", ["acme"])
    ) as client:
        await client.send_raw(b"\x00\x01binary", binary=True)
        answer = await client.next_protocol_frame(timeout=10)
        connection_id = client.connection_id
    assert answer.payload["code"] == "bad_frame"

    async def refused_span() -> ReceivedSpan | None:
        found = [
            span
            for span in receiver.spans
            if span.name == "ws receive"
            and span.attributes.get("nexus.connection.id") == connection_id
        ]
        return found[0] if found else None

    span = await eventually(refused_span, what="the binary frame's ws receive span")
    assert span.status == "UNSET"
    assert span.attributes["nexus.error.code"] == "bad_frame"


async def test_an_undecodable_client_record_is_counted_traced_and_skipped(
    mesh: Mesh, receiver: OtlpReceiver, settings: NexusSettings
) -> None:
    """A record on the clients topic that is no envelope (another format, a corrupt write):
    the gateway counts it in ``nexus_gateway_undecodable_records_total``, ends its trace in a
    failed ``process <prefix>.clients`` span under the span that produced it (found through
    the record's headers, as its value cannot be read), and the campaign's clients go on
    receiving the events written after it."""
    gateway = mesh.gateway(**traced_env(receiver))
    assert gateway.url
    codec = Codec(load_registry(settings.schemas_dir))
    topic = TopicNames(prefix=settings.topic_prefix).clients
    partition = campaign_partition("acme", settings.clients_partitions)
    trace_id, producer_span = secrets.token_hex(16), secrets.token_hex(8)

    def connect(user: str) -> MeshClient:
        return MeshClient.connect(
            gateway.url or "", campaign_id="acme", user_id=user, token=mesh.token(user, ["acme"])
        )

    async with connect("alice") as alice, connect("bob") as bob:
        # Headers of a real event, its value not an envelope at all.
        unreadable = campaign_update(
            codec, "never delivered", traceparent=f"00-{trace_id}-{producer_span}-01"
        )
        readable = campaign_update(codec, "after the unreadable one")
        producer = AIOKafkaProducer(**client_kwargs(settings))
        await producer.start()
        try:
            bad = await write(
                producer, topic, partition, unreadable, codec, value=b"\x00not an envelope"
            )
            await write(producer, topic, partition, readable, codec)
        finally:
            await producer.stop()
        for client in (alice, bob):
            # The first event either gets: the one after the record that could not be read.
            received = await client.next_event(timeout=15)
            assert received.payload["status"] == "after the unreadable one"

    # Read in order from one partition: counted before the event after it was delivered.
    samples = await scrape_metrics(gateway.url)
    assert metric_value(samples, "nexus_gateway_undecodable_records_total") == 1
    assert f"skipping undecodable record {topic}-{partition}@{bad.offset}" in gateway.log()

    async def failed_span() -> ReceivedSpan | None:
        spans = receiver.named(trace_id, f"process {mesh.prefix}.clients")
        return spans[0] if spans else None

    span = await eventually(failed_span, what="the undecodable record's process span")
    assert one(receiver.trace(trace_id), "span in the unreadable record's trace") == span
    # Its log line names that span: the trace UI's "logs for this span" finds it.
    (line,) = [
        json.loads(text)
        for text in gateway.log().splitlines()
        if "skipping undecodable record" in text
    ]
    assert (line["trace_id"], line["span_id"]) == (trace_id, span.span_id)
    assert (span.service, span.kind) == ("nexus-gateway", "CONSUMER")
    assert span.parent_span_id == producer_span
    assert span.status == "ERROR"
    assert span.events == ("exception",)
    assert span.attributes["error.type"] == "nexus_mesh.errors.CodecError"
    (exception,) = span.decoded.events
    message = {a.key: a.value.string_value for a in exception.attributes}["exception.message"]
    assert "not Avro single-object encoded" in message
    # The record is named by where it is and, from its headers, what it claimed to be.
    assert span.attributes["messaging.destination.name"] == topic
    assert span.attributes["messaging.destination.partition.id"] == str(partition)
    assert span.attributes["messaging.kafka.offset"] == bad.offset
    assert span.attributes["nexus.event.type"] == "campaign.updated"
    assert span.attributes["nexus.campaign.id"] == "acme"
