"""Where ``nexus dev`` sends the children's spans once its local Zipkin runs, and which
admin port its gateway takes."""

from __future__ import annotations

import argparse

import pytest

from nexus_mesh.cli import build_parser
from nexus_mesh.cli.dev import (
    _start_traces,
    choose_admin_port,
    choose_service_metrics_port,
    mesh_processes,
    point_at_zipkin,
    traces_configured,
    tracing_disabled,
)
from nexus_mesh.errors import ConfigurationError


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


def test_a_traces_only_endpoint_or_a_disabled_sdk_is_respected() -> None:
    """``nexus dev`` must not swap an operator's traces endpoint for its Zipkin, nor start
    a Zipkin (and point at it) when no process will make a span."""
    assert traces_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/t"})
    assert tracing_disabled({"OTEL_SDK_DISABLED": "TRUE "})
    assert not tracing_disabled({"OTEL_SDK_DISABLED": "false"})
    assert not tracing_disabled({})
    for env in (
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"},
    ):
        before = dict(env)
        assert _start_traces(argparse.Namespace(traces=None, zipkin_port=9411), env) is None
        assert env == before, "the children's exporter settings are left as they were"


def test_the_admin_port_sits_next_to_the_gateway_unless_told_otherwise() -> None:
    """Two ``nexus dev`` on different ports must not both claim the settings' fixed admin
    port, nor may ``--port 8081`` collide with it."""
    env: dict[str, str] = {}
    choose_admin_port(env, 8081, None)
    assert env["NEXUS_GATEWAY_ADMIN_PORT"] == "8082"
    env = {"NEXUS_GATEWAY_ADMIN_PORT": "9100"}
    choose_admin_port(env, 8080, None)
    assert env["NEXUS_GATEWAY_ADMIN_PORT"] == "9100", "the operator's variable stands"
    choose_admin_port(env, 8080, 9200)
    assert env["NEXUS_GATEWAY_ADMIN_PORT"] == "9200", "the flag wins over the variable"
    env = {}
    choose_admin_port(env, 65535, None)
    assert env["NEXUS_GATEWAY_ADMIN_PORT"] == "65534"
    with pytest.raises(ConfigurationError, match="cannot be the gateway's port"):
        choose_admin_port({}, 8080, 8080)


def test_the_search_service_metrics_port_follows_the_gateway_s() -> None:
    """A second ``nexus dev --port 8090`` must not find the first's search service on the
    settings' fixed 9464 (its metrics endpoint failed to start there)."""
    env: dict[str, str] = {}
    choose_admin_port(env, 8080, None)
    choose_service_metrics_port(env, 8080)
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "8082"
    env = {}
    choose_admin_port(env, 8090, 8091)
    choose_service_metrics_port(env, 8090)
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "8092"
    env = {}
    choose_admin_port(env, 8080, 8082)
    choose_service_metrics_port(env, 8080)
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "8081", "not the admin port it was given"
    env = {}
    choose_admin_port(env, 65535, None)
    choose_service_metrics_port(env, 65535)
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "65533"
    env = {"NEXUS_SERVICE_METRICS_PORT": "9500"}
    choose_service_metrics_port(env, 8080)
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "9500", "the operator's variable stands"


def test_services_of_your_own_run_next_to_the_mesh_each_with_its_metrics_port() -> None:
    """``nexus dev --service greeter:service --no-search``: a registry of your own without
    search's types still gets a gateway, and each service its own metrics port (two on the
    search service's port: the second failed to serve its metrics)."""
    args = build_parser().parse_args(
        ["dev", "--service", "greeter:service", "--service", "tasks:app", "--no-search"]
    )
    assert args.service == ["greeter:service", "tasks:app"] and args.search is False
    env = {"NEXUS_SERVICE_METRICS_PORT": "8082", "NEXUS_AUTH": "none"}
    processes = mesh_processes(env, search=args.search, services=args.service)
    commands = [command[3:] for command, _ in processes]
    assert commands == [["gateway"], ["service", "greeter:service"], ["service", "tasks:app"]]
    ports = [child["NEXUS_SERVICE_METRICS_PORT"] for _, child in processes[1:]]
    assert len(set(ports)) == 2 and "8082" not in ports
    assert all(child["NEXUS_AUTH"] == "none" for _, child in processes)
    with_search = mesh_processes(env, search=True, services=[])
    assert [command[3:] for command, _ in with_search] == [["gateway"], ["service", "search"]]
    assert with_search[1][1]["NEXUS_SERVICE_METRICS_PORT"] == "8082"
