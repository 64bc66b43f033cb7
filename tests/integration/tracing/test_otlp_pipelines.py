"""Both OTLP pipelines deliver the same spans to a real OTLP/HTTP receiver.

``native`` (the default) is fastotel's processor, ``sdk`` the SDK's batch processor with
its OTLP exporter (``NEXUS_OTLP_PIPELINE=sdk``); an operator switching between them must
see the same trace: names, parent, kind, attributes, status, exception event, resource.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from nexus_mesh.tracing import setup_telemetry
from nexus_mesh.tracing.spans import record_error, send_span, ws_receive_span
from nexus_testkit import eventually
from otlp_receiver import ReceivedSpan, otlp_receiver


def _client_context(trace_id: str, span_id: str) -> Context:
    remote = SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(1)
    )
    return set_span_in_context(NonRecordingSpan(remote))


@pytest.mark.parametrize("pipeline", ["native", "sdk"])
async def test_pipeline_exports_the_mesh_spans(
    pipeline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    async with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        telemetry = setup_telemetry("nexus-gateway", instance="gw-1", otlp_pipeline=pipeline)
        with (
            ws_receive_span(
                telemetry.tracer,
                connection_id="c1",
                campaign_id="acme",
                parent=_client_context(trace_id, client_span),
            ),
            send_span(
                telemetry.tracer,
                topic="nexus.search",
                key="acme",
                event_type="search.requested",
                event_id="e1",
                campaign_id="acme",
            ) as sent,
        ):
            record_error(sent, TimeoutError("no answer"), error_type="unavailable")
        # The exporter posts to the receiver on this loop: flush from a worker thread.
        await asyncio.to_thread(telemetry.shutdown)

        async def both() -> tuple[ReceivedSpan, ReceivedSpan] | None:
            receive = receiver.named(trace_id, "ws receive")
            send = receiver.named(trace_id, "send nexus.search")
            return (receive[0], send[0]) if receive and send else None

        receive, send = await eventually(both, what=f"both spans through {pipeline}")
    assert receive.parent_span_id == client_span
    assert send.parent_span_id == receive.span_id
    assert (receive.kind, send.kind) == ("SERVER", "PRODUCER")
    assert receive.service == send.service == "nexus-gateway"
    assert receive.attributes["nexus.connection.id"] == "c1"
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.kafka.message.key"] == "acme"
    assert send.attributes["error.type"] == "unavailable"
    assert send.status == "ERROR"
    assert send.events == ("exception",)
    assert receive.status != "ERROR"
