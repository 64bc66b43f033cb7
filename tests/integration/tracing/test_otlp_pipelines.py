"""Every OTLP pipeline delivers the same spans to a real OTLP/HTTP receiver.

``native`` (the default) is the mesh's lean spans through fastotel's processor,
``sdk-spans`` the SDK's spans through fastotel, ``sdk`` the SDK's spans, batch processor
and OTLP exporter (``NEXUS_OTLP_PIPELINE``); an operator switching between them must see
the same trace: names, parent, kind, attributes, status, exception event, resource.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import textwrap

import pytest
from opentelemetry.context import Context
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from nexus_mesh.tracing import setup_telemetry
from nexus_mesh.tracing.spans import record_error, send_span, written, ws_receive_span
from nexus_testkit import eventually
from otlp_receiver import ReceivedSpan, otlp_receiver


def _client_context(trace_id: str, span_id: str) -> Context:
    remote = SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState.from_header(["vendor=client"]),
    )
    return set_span_in_context(NonRecordingSpan(remote))


async def _one_interaction(pipeline: str, monkeypatch: pytest.MonkeyPatch) -> list[ReceivedSpan]:
    """One interaction's spans through ``pipeline``, by name."""
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    async with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        telemetry = setup_telemetry("nexus-gateway", instance="gw-1", otlp_pipeline=pipeline)
        with ws_receive_span(
            telemetry.tracer,  # a remote parent with a trace state
            connection_id="c1",
            campaign_id="acme",
            parent=_client_context(trace_id, client_span),
        ) as received:
            received.set_attribute("nexus.event.type", "search.requested")
            received.set_attribute("nexus.sizes", [3, 5])
            received.add_event("frame parsed", {"bytes": 512})
            with send_span(
                telemetry.tracer,
                topic="nexus.search",
                key="acme",
                event_type="search.requested",
                event_id="e1",
                campaign_id="acme",
            ) as sent:
                written(sent, partition=3, offset=41)
            try:
                # A credential the error quotes must not leave with the span.
                raise ValueError("payload failed its schema (http://reader:hunter2@registry/v1)")
            except ValueError as error:
                record_error(received, error, error_type="invalid_payload")
        await asyncio.to_thread(telemetry.shutdown)

        async def both() -> list[ReceivedSpan] | None:
            spans = receiver.trace(trace_id)
            return spans if len(spans) == 2 else None

        spans = await eventually(both, what=f"the interaction's spans through {pipeline}")
    by_name = {span.name: span for span in spans}
    assert by_name["send nexus.search"].parent_span_id == by_name["ws receive"].span_id
    assert by_name["ws receive"].parent_span_id == client_span
    return sorted(spans, key=lambda span: span.name)


async def test_lean_spans_export_what_the_sdk_spans_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``native`` against ``sdk-spans``: the same calls, the same exporter, only the span
    implementation differs; the collector must not be able to tell them apart."""

    def seen(span: ReceivedSpan) -> tuple[object, ...]:
        return (span.service, span.name, span.kind, span.attributes, span.status, span.events)

    lean = await _one_interaction("native", monkeypatch)
    sdk = await _one_interaction("sdk-spans", monkeypatch)
    assert [seen(span) for span in lean] == [seen(span) for span in sdk]
    send, receive = lean  # by name
    assert send.attributes["messaging.kafka.offset"] == 41
    assert send.attributes["messaging.destination.partition.id"] == "3"
    assert receive.events == ("frame parsed", "exception") and receive.status == "ERROR"
    assert receive.attributes["error.type"] == "invalid_payload"


async def test_lean_spans_decode_exactly_as_the_sdk_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``native`` against ``sdk-spans``, field by field as a collector decodes them (ids and
    times aside, which differ between two interactions): resource, scope, kind, flags with
    the remote-parent bit, trace state, attributes, events with their attributes, status,
    dropped counts."""

    def comparable(span: ReceivedSpan) -> tuple[object, ...]:
        copy = ProtoSpan()
        copy.CopyFrom(span.decoded)
        for name in ("trace_id", "span_id", "parent_span_id"):
            copy.ClearField(name)  # type: ignore[arg-type]
        copy.start_time_unix_nano = copy.end_time_unix_nano = 0
        for event in copy.events:
            event.time_unix_nano = 0
        return span.resource, span.scope, copy.SerializeToString(deterministic=True)

    lean = await _one_interaction("native", monkeypatch)
    sdk = await _one_interaction("sdk-spans", monkeypatch)
    assert [comparable(span) for span in lean] == [comparable(span) for span in sdk]
    assert len(lean) == 2
    receive = lean[1].decoded
    assert receive.trace_state == "vendor=client" and receive.flags & 0x100  # has is_remote
    assert [event.name for event in receive.events] == ["frame parsed", "exception"]
    exported = receive.SerializeToString()
    assert b"hunter2" not in exported, "the error's credential was exported"
    assert b"http://reader:***@registry/v1" in exported, "the error itself was"
    for send, received in (lean, sdk):  # by name
        assert send.decoded.parent_span_id == received.decoded.span_id
        assert send.decoded.end_time_unix_nano >= send.decoded.start_time_unix_nano > 0


@pytest.mark.parametrize("pipeline", ["native", "sdk-spans", "sdk"])
async def test_pipeline_exports_the_mesh_spans(
    pipeline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    send, receive = await _one_interaction(pipeline, monkeypatch)  # parents checked there
    assert (receive.kind, send.kind) == ("SERVER", "PRODUCER")
    assert receive.service == send.service == "nexus-gateway"
    assert receive.attributes["nexus.connection.id"] == "c1"
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.kafka.message.key"] == "acme"
    assert receive.attributes["error.type"] == "invalid_payload"
    assert receive.status == "ERROR"
    assert receive.events == ("frame parsed", "exception")
    assert send.status != "ERROR"


@pytest.mark.parametrize("pipeline", ["native", "sdk-spans"])
async def test_a_process_exiting_without_shutdown_still_exports(pipeline: str) -> None:
    """An application that embeds the mesh and never calls ``Telemetry.shutdown()``: as with
    the SDK's provider, the spans it ended are exported at exit."""
    program = textwrap.dedent(
        f"""
        from nexus_mesh.tracing import setup_telemetry
        from nexus_mesh.tracing.spans import send_span

        telemetry = setup_telemetry("nexus-exiting", otlp_pipeline={pipeline!r})
        with send_span(
            telemetry.tracer, topic="t.search", key="acme", event_type="search.requested",
            event_id="e1", campaign_id="acme",
        ):
            pass
        """
    )
    async with otlp_receiver() as receiver:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        env.pop("OTEL_SDK_DISABLED", None)
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", program, env=env)
        assert await asyncio.wait_for(process.wait(), timeout=60) == 0
        assert [(span.service, span.name) for span in receiver.spans] == [
            ("nexus-exiting", "send t.search")
        ]
