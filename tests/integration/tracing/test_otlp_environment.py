"""The standard ``OTEL_*`` variables an operator sets decide where spans go, what goes along
and what the collector is told about their source, through the default pipeline (the mesh's
lean spans, exported by fastotel) as through the others (``NEXUS_OTLP_PIPELINE``).

A real OTLP/HTTP receiver records each export's path and headers and decodes its spans with
their resource. ``Telemetry.shutdown()`` exports what is queued before it returns, so what
the receivers hold then is all that was sent.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from nexus_mesh.tracing import setup_telemetry
from nexus_mesh.tracing.spans import send_span
from otlp_receiver import otlp_receiver

PIPELINES = ["native", "sdk-spans", "sdk"]


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``OTEL_*`` variable of the test runner's reaches the telemetry under test."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    return monkeypatch


async def export_one_span(pipeline: str) -> None:
    """One span from a gateway's telemetry built from the environment, then shut down."""
    telemetry = setup_telemetry("nexus-gateway", instance="gw-1", otlp_pipeline=pipeline)
    with send_span(
        telemetry.tracer,
        topic="t.search",
        key="acme",
        event_type="search.requested",
        event_id="e1",
        campaign_id="acme",
    ):
        pass
    await asyncio.to_thread(telemetry.shutdown)


@pytest.mark.parametrize("pipeline", PIPELINES)
async def test_the_traces_endpoint_wins_over_the_general_one(
    pipeline: str, otel_env: pytest.MonkeyPatch
) -> None:
    """``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is the URL spans are posted to, as it is (no
    ``/v1/traces`` appended); ``OTEL_EXPORTER_OTLP_ENDPOINT``, set as well, goes unused."""
    async with (
        otlp_receiver(path="/collector/traces") as traces,
        otlp_receiver() as general,
    ):
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", general.url)
        otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{traces.url}/collector/traces")
        await export_one_span(pipeline)
    assert [request.path for request in traces.received] == ["/collector/traces"]
    assert [span.name for span in traces.spans] == ["send t.search"]
    assert general.received == []


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("base", ["/otlp", "/otlp/"])
async def test_the_general_endpoint_gets_the_traces_path_appended(
    pipeline: str, base: str, otel_env: pytest.MonkeyPatch
) -> None:
    """A collector behind a path prefix (an ingress, a vendor's gateway): spans go to
    ``<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces``, with or without a trailing slash."""
    async with otlp_receiver(path="/otlp/v1/traces") as receiver:
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + base)
        await export_one_span(pipeline)
    assert [request.path for request in receiver.received] == ["/otlp/v1/traces"]
    assert [span.name for span in receiver.spans] == ["send t.search"]


@pytest.mark.parametrize("pipeline", PIPELINES)
async def test_headers_reach_the_collector(pipeline: str, otel_env: pytest.MonkeyPatch) -> None:
    """``OTEL_EXPORTER_OTLP_HEADERS`` (W3C baggage format, values URL-encoded) arrive as HTTP
    headers of every export: what a collector behind authentication, or a multi-tenant one,
    needs; for a header both name, ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` wins."""
    async with otlp_receiver() as receiver:
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        otel_env.setenv(
            "OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20s3cret,X-Scope-OrgID=tenant-7"
        )
        await export_one_span(pipeline)
        otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Scope-OrgID=traces-tenant")
        await export_one_span(pipeline)
    assert [span.name for span in receiver.spans] == ["send t.search"] * 2
    general, traces = receiver.received
    assert general.headers["authorization"] == "Bearer s3cret"
    assert general.headers["x-scope-orgid"] == "tenant-7"
    assert general.headers["content-type"] == "application/x-protobuf"
    assert traces.headers["x-scope-orgid"] == "traces-tenant"


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize(
    ("env", "service"),
    [
        ({"OTEL_SERVICE_NAME": "edge-gateway"}, "edge-gateway"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"}, "from-attributes"),
        (
            {
                "OTEL_SERVICE_NAME": "edge-gateway",
                "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes",
            },
            "edge-gateway",
        ),
    ],
    ids=["service-name", "resource-attributes", "service-name-wins"],
)
async def test_the_resource_says_what_the_operator_set(
    pipeline: str, env: dict[str, str], service: str, otel_env: pytest.MonkeyPatch
) -> None:
    """The exported resource names the service as ``OTEL_SERVICE_NAME``, else a
    ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``, says (the mesh's own name is only the
    default); the other attributes set there are exported, and win over the mesh's
    defaults; what the operator left unset keeps the mesh's value."""
    async with otlp_receiver() as receiver:
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        for name, value in env.items():
            otel_env.setenv(name, value)
        given = [env["OTEL_RESOURCE_ATTRIBUTES"]] if "OTEL_RESOURCE_ATTRIBUTES" in env else []
        otel_env.setenv(
            "OTEL_RESOURCE_ATTRIBUTES",
            ",".join([*given, "deployment.environment.name=staging", "service.namespace=payments"]),
        )
        await export_one_span(pipeline)
    (span,) = receiver.spans
    assert span.service == service
    assert span.resource["service.name"] == service
    assert span.resource["deployment.environment.name"] == "staging"
    assert span.resource["service.namespace"] == "payments"
    assert span.resource["service.instance.id"] == "gw-1"
    assert span.resource["telemetry.sdk.language"] == "python"
