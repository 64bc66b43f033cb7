"""What a freshly started gateway or service exports before anything happened."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from nexus_gateway.auth import REFUSAL_CODES
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import ErrorCode
from nexus_mesh.registry import Flow, load_registry
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.settings import default_schemas_dir


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_the_counters_alerts_read_exist_at_zero_from_the_start() -> None:
    """Prometheus' increase() and rate() ignore the first sample of a series: a counter whose
    series first appears at 1 never shows its first event, and an alert on the first Kafka
    refusal, unrecovered resume or dead letter would never fire."""
    gateway = samples(GatewayMetrics().registry)
    for code in ErrorCode:
        assert gateway[("nexus_gateway_errors_total", frozenset({("code", str(code))}))] == 0
    for recovered in ("true", "false"):
        key = ("nexus_gateway_resumes_total", frozenset({("recovered", recovered)}))
        assert gateway[key] == 0
    # every reason a handshake is refused for, with its close code, and a browser origin
    failures = {
        dict(labels)["reason"]: dict(labels)["code"]
        for (name, labels), value in gateway.items()
        if name == "nexus_gateway_auth_failures_total" and value == 0
    }
    assert failures == {**{r: str(c) for r, c in REFUSAL_CODES.items()}, "origin": "origin"}
    assert {"bad_signature", "expired", "campaign_forbidden"} <= failures.keys()

    service = samples(ServiceMetrics(service="search").registry)
    for reason in ("undecodable", "handler"):
        labels = frozenset({("service", "search"), ("reason", reason)})
        assert service[("nexus_service_dlq_total", labels)] == 0
    alone = frozenset({("service", "search")})
    assert service[("nexus_service_duplicates_total", alone)] == 0
    assert service[("nexus_service_retries_total", alone)] == 0
    for outcome in ("ok", "in_doubt", "unavailable", "rejected", "topic_missing", "failed"):
        labels = frozenset({("service", "search"), ("outcome", outcome)})
        assert service[("nexus_service_produce_latency_seconds_count", labels)] == 0
        key = ("nexus_gateway_produce_latency_seconds_count", frozenset({("outcome", outcome)}))
        assert gateway[key] == 0


def _flow(name: str, timeout_type: str) -> Flow:
    return Flow(
        name=name,
        request=f"{name}.requested",
        replies=(f"{name}.completed",),
        timeout_ms=1000,
        timeout_type=timeout_type,
    )


def test_each_flow_s_timeouts_and_requests_exist_at_zero_from_the_start() -> None:
    """NexusGatewayRequestsTimingOut reads the share of a flow's requests (events in, by
    request type) that end in its timeout (by timeout type), joined by
    nexus_gateway_flow_info: all of them exist from the start, for every flow of the
    registry, so the first timeout of a type shows in rate() too."""
    flows = load_registry(default_schemas_dir()).flows.values()
    assert flows, "the shipped registry has flows"
    gateway = samples(GatewayMetrics(flows=flows).registry)
    for flow in flows:
        timeouts = ("nexus_gateway_flow_timeouts_total", frozenset({("type", flow.timeout_type)}))
        assert gateway[timeouts] == 0
        requests = ("nexus_gateway_events_in_total", frozenset({("type", flow.request)}))
        assert gateway[requests] == 0
        info = {("flow", flow.name), ("request", flow.request), ("timeout", flow.timeout_type)}
        assert gateway[("nexus_gateway_flow_info", frozenset(info))] == 1

    # Two flows may share a timeout type: one series of it, and one info series per flow.
    shared = samples(
        GatewayMetrics(flows=[_flow("a", "x.timeout"), _flow("b", "x.timeout")]).registry
    )
    timeout_series = [k for k in shared if k[0] == "nexus_gateway_flow_timeouts_total"]
    assert timeout_series == [
        ("nexus_gateway_flow_timeouts_total", frozenset({("type", "x.timeout")}))
    ]
    info_series = {dict(k[1])["flow"] for k in shared if k[0] == "nexus_gateway_flow_info"}
    assert info_series == {"a", "b"}

    # Without flows (a registry that has none): none of these series is made up.
    flow_series = {
        "nexus_gateway_flow_info",
        "nexus_gateway_events_in_total",
        "nexus_gateway_flow_timeouts_total",
    }
    assert not [name for name, _ in samples(GatewayMetrics().registry) if name in flow_series]
