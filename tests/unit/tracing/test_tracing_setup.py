"""Telemetry from the standard OTEL_* variables: exporters, sampler, resource, kill switch."""

from __future__ import annotations

import re

import pytest
from fastotel import OTLPSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.tracing import (
    Telemetry,
    build_resource,
    sampler_from,
    setup_telemetry,
    span_exporters,
)
from nexus_mesh.tracing.handoff import BatchedHandOff
from nexus_mesh.tracing.lean import DiscardSpans, LeanTracerProvider
from nexus_mesh.tracing.setup import (
    kubernetes_attributes,
    span_processors,
    warn_fixed_propagation,
)


def test_default_telemetry_is_a_no_op() -> None:
    telemetry = Telemetry()
    assert not telemetry.enabled
    with telemetry.tracer.start_as_current_span("x") as span:
        assert not span.is_recording()
    telemetry.shutdown()  # nothing to shut down, and no error


def test_sdk_disabled_gives_the_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "no-such-exporter")  # not even looked at
    assert not setup_telemetry("nexus-test").enabled


def test_exporters_default_to_otlp_over_http() -> None:
    (exporter,) = span_exporters({})
    assert isinstance(exporter, OTLPSpanExporter)
    exporter.shutdown()


def test_exporter_list_none_and_console() -> None:
    assert span_exporters({"OTEL_TRACES_EXPORTER": "none"}) == []
    (console,) = span_exporters({"OTEL_TRACES_EXPORTER": " Console "})
    assert isinstance(console, ConsoleSpanExporter)


def test_zipkin_exporter_is_installed() -> None:
    (zipkin,) = span_exporters({"OTEL_TRACES_EXPORTER": "zipkin_json"})
    assert type(zipkin).__module__.startswith("opentelemetry.exporter.zipkin")


def test_otlp_goes_through_the_native_pipeline_by_default() -> None:
    (processor,) = span_processors({})
    assert isinstance(processor, OTLPSpanProcessor)
    processor.shutdown()


@pytest.mark.parametrize(
    ("env", "pipeline"),
    [
        ({}, "sdk"),
        ({"OTEL_TRACES_EXPORTER": "zipkin_json"}, "native"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "native"),
    ],
)
def test_the_sdk_batch_processor_for_everything_else(env: dict[str, str], pipeline: str) -> None:
    """The escape hatch, and exporters fastotel does not replace."""
    (processor,) = span_processors(env, pipeline=pipeline)
    assert isinstance(processor, BatchSpanProcessor)
    processor.shutdown()


def test_no_processor_without_exporters() -> None:
    assert span_processors({"OTEL_TRACES_EXPORTER": "none"}) == []


def test_an_unknown_pipeline_fails_at_start() -> None:
    with pytest.raises(
        ConfigurationError,
        match=re.escape("NEXUS_OTLP_PIPELINE='rust': use native, sdk-spans, sdk"),
    ):
        span_processors({}, pipeline="rust")


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaegerr"}, "OTEL_TRACES_EXPORTER='jaegerr'"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ],
)
def test_unusable_exporters_fail_at_start(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        span_exporters(env)
    with pytest.raises(ConfigurationError, match=re.escape(complaint)):
        span_processors(env)


def test_sampler_is_honoured() -> None:
    assert sampler_from({}).get_description().startswith("ParentBased")
    assert sampler_from({"OTEL_TRACES_SAMPLER": "always_off"}).get_description() == (
        "AlwaysOffSampler"
    )
    ratio = sampler_from(
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    )
    assert isinstance(ratio, ParentBased)
    assert "0.25" in ratio.get_description()
    assert isinstance(sampler_from({"OTEL_TRACES_SAMPLER": "traceidratio"}), TraceIdRatioBased)


def test_empty_settings_are_unset() -> None:
    """The specification reads an empty variable as an unset one: a chart or a shell that
    passes ``VAR=`` gets the defaults, not a pod stopped at start or spans thrown away."""
    empty = {"OTEL_TRACES_SAMPLER": "", "OTEL_TRACES_SAMPLER_ARG": " ", "OTEL_TRACES_EXPORTER": ""}
    assert sampler_from(empty).get_description() == sampler_from({}).get_description()
    ratio = sampler_from({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": ""})
    assert ratio.get_description() == TraceIdRatioBased(1.0).get_description()
    (exporter,) = span_exporters(empty)
    assert isinstance(exporter, OTLPSpanExporter)
    exporter.shutdown()
    (processor,) = span_processors(empty)
    assert isinstance(processor, OTLPSpanProcessor)
    processor.shutdown()


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_SAMPLER": "always-on"},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
    ],
)
def test_bad_sampler_settings_fail_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_SAMPLER"):
        sampler_from(env)


def test_always_off_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    telemetry = setup_telemetry("nexus-test")
    try:
        assert telemetry.enabled
        with telemetry.tracer.start_as_current_span("x") as span:
            assert not span.is_recording()
            assert span.get_span_context().is_valid  # still propagated, as unsampled
    finally:
        telemetry.shutdown()


def test_resource_names_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
    attributes = build_resource("nexus-gateway", instance="gw-1").attributes
    assert attributes["service.name"] == "nexus-gateway"
    assert attributes["service.namespace"] == "nexus-mesh"
    assert attributes["service.instance.id"] == "gw-1"
    assert attributes["deployment.environment.name"] == "test"
    assert "k8s.pod.name" not in attributes


def test_otel_service_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "edge-gateway")
    assert build_resource("nexus-gateway").attributes["service.name"] == "edge-gateway"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
    assert build_resource("nexus-gateway").attributes["service.name"] == "from-attributes"


def test_kubernetes_pod_and_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    assert kubernetes_attributes({}) == {}
    in_pod = {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "POD_NAME": "nexus-gateway-7d9f-abcde",
        "POD_NAMESPACE": "mesh",
        "NODE_NAME": "node-3",
    }
    assert kubernetes_attributes(in_pod) == {
        "k8s.pod.name": "nexus-gateway-7d9f-abcde",
        "k8s.namespace.name": "mesh",
        "k8s.node.name": "node-3",
    }
    for name, value in in_pod.items():
        monkeypatch.setenv(name, value)
    attributes = build_resource("nexus-search").attributes
    assert attributes["k8s.pod.name"] == "nexus-gateway-7d9f-abcde"
    assert attributes["k8s.namespace.name"] == "mesh"


@pytest.mark.parametrize(
    ("exporters", "pipeline", "provider_type"),
    [
        ("none", "native", LeanTracerProvider),
        ("otlp", "native", LeanTracerProvider),
        ("otlp", "sdk-spans", TracerProvider),
        ("otlp", "sdk", TracerProvider),
        # Exporters that read more than a finished span's fields get the SDK's spans.
        ("console", "native", TracerProvider),
        ("otlp,console", "native", TracerProvider),
    ],
)
def test_setup_builds_an_owned_provider(
    exporters: str, pipeline: str, provider_type: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", exporters)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    telemetry = setup_telemetry("nexus-test", instance="i-1", otlp_pipeline=pipeline)
    provider = telemetry.tracer_provider
    assert isinstance(provider, provider_type)
    assert isinstance(provider, (TracerProvider, LeanTracerProvider))
    assert provider.resource.attributes["service.instance.id"] == "i-1"
    telemetry.force_flush()
    telemetry.shutdown()
    telemetry.shutdown()  # idempotent


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:4318",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem",
            },
            "No such file",
        ),
        ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5000"}, "max_export_batch_size"),
    ],
)
def test_native_export_settings_it_cannot_honour_stop_the_start(
    env: dict[str, str], complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fastotel reads these variables itself; a bad one is a one-line ConfigurationError."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=f"OTLP export settings: .*{complaint}"):
        span_processors({})


def test_the_native_pipeline_hands_spans_to_fastotel_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lean spans reach fastotel through the batched hand-off, whose queue is as long as
    ``OTEL_BSP_MAX_QUEUE_SIZE`` says (fastotel's own queue); without an exporter nothing
    is queued at all."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "3000")
    telemetry = setup_telemetry("nexus-test", otlp_pipeline="native")
    provider = telemetry.tracer_provider
    assert isinstance(provider, LeanTracerProvider)
    handoff = provider.processor
    assert isinstance(handoff, BatchedHandOff)
    assert isinstance(handoff._processor, OTLPSpanProcessor)
    assert handoff._max_queue_size == 3000
    telemetry.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    quiet = setup_telemetry("nexus-test", otlp_pipeline="native").tracer_provider
    assert isinstance(quiet, LeanTracerProvider)
    assert isinstance(quiet.processor, DiscardSpans)


def test_a_propagator_the_mesh_does_not_speak_is_said_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator who sets ``OTEL_PROPAGATORS=b3`` expects B3 headers; the mesh writes W3C
    trace context only (its wire format), so it says so instead of ignoring it silently."""
    with caplog.at_level("WARNING", logger="nexus_mesh.tracing.setup"):
        assert warn_fixed_propagation({"OTEL_PROPAGATORS": "tracecontext,b3multi"})
    assert "W3C trace context" in caplog.text and "b3multi ignored" in caplog.text
    caplog.clear()
    for fine in ("tracecontext,baggage", "", "none"):
        assert not warn_fixed_propagation({"OTEL_PROPAGATORS": fine})
    assert not warn_fixed_propagation({})
    assert not caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "notaurl"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318"),
    ],
)
@pytest.mark.parametrize("pipeline", ["native", "sdk"])
def test_an_otlp_endpoint_that_is_no_url_stops_the_start(
    name: str, value: str, pipeline: str
) -> None:
    """It was taken: every export failed, each batch dropped, said only by a counter."""
    with pytest.raises(ConfigurationError, match=f"{name}='{value}': OTLP over HTTP needs"):
        span_processors({name: value}, pipeline=pipeline)
