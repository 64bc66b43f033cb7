"""Spans lost before any backend saw them are counted where operators look: a full export
queue here (the real pipeline: lean spans, the hand-off, fastotel), scraped as Prometheus
reads it."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.tracing import Telemetry, setup_telemetry


@pytest.fixture
def unreachable_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTLP to a loopback port nothing listens on, with an export queue of 4 spans."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/v1/traces")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_EXPORT_TIMEOUT", "200")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)


def samples(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@pytest.mark.usefixtures("unreachable_collector")
@pytest.mark.parametrize("pipeline", ["native", "sdk-spans"])
def test_spans_dropped_on_a_full_queue_are_counted(pipeline: str) -> None:
    telemetry = setup_telemetry("loss-test", otlp_pipeline=pipeline)
    try:
        gateway = GatewayMetrics()
        gateway.spans_dropped.track(telemetry.span_losses)
        service = ServiceMetrics(service="search")
        service.spans_dropped.track(telemetry.span_losses)
        assert samples(
            generate_latest(gateway.registry).decode(), "nexus_gateway_spans_dropped_total"
        ) == {
            "queue_full": 0,
            "export_failed": 0,
            "rejected": 0,
        }
        for _ in range(2000):
            with telemetry.tracer.start_as_current_span("burst"):
                pass
        dropped = samples(
            generate_latest(gateway.registry).decode(), "nexus_gateway_spans_dropped_total"
        )
        assert dropped["queue_full"] > 0
        by_service = {
            (s.labels["service"], s.labels["reason"]): s.value
            for family in text_string_to_metric_families(generate_latest(service.registry).decode())
            for s in family.samples
            if s.name == "nexus_service_spans_dropped_total"
        }
        assert by_service[("search", "queue_full")] >= dropped["queue_full"]
    finally:
        telemetry.shutdown()


def test_tracing_off_reports_no_losses() -> None:
    metrics = GatewayMetrics()
    metrics.spans_dropped.track(Telemetry().span_losses)
    text = generate_latest(metrics.registry).decode()
    assert samples(text, "nexus_gateway_spans_dropped_total") == {}
