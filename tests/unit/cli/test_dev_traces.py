"""Where ``nexus dev`` sends the children's spans once its local Zipkin runs."""

from __future__ import annotations

from nexus_mesh.cli.dev import point_at_zipkin, traces_configured


def test_spans_go_to_the_local_zipkin_every_trace_by_default() -> None:
    env: dict[str, str] = {}
    point_at_zipkin(env, 9411)
    assert env["OTEL_TRACES_EXPORTER"] == "zipkin_json"
    assert env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == "http://127.0.0.1:9411/api/v2/spans"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"


def test_the_operators_sampler_still_decides() -> None:
    env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    point_at_zipkin(env, 9411)
    assert env["OTEL_TRACES_EXPORTER"] == "zipkin_json"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"


def test_empty_otel_variables_do_not_count_as_a_trace_destination() -> None:
    """An empty variable is an unset one (tracing setup reads them so): ``nexus dev`` still
    starts its Zipkin then, instead of leaving spans to an endpoint nobody named."""
    assert not traces_configured({"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": " "})
    assert traces_configured({"OTEL_TRACES_EXPORTER": "console"})
    assert traces_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
