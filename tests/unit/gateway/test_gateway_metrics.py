"""What a freshly started gateway or service exports before anything happened."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import ErrorCode
from nexus_mesh.service.metrics import ServiceMetrics


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
    for close_code in ("4001", "4003"):
        key = ("nexus_gateway_auth_failures_total", frozenset({("code", close_code)}))
        assert gateway[key] == 0

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
