"""A service's Prometheus metrics, in a registry of its own (one per :class:`Service`, so
several services can run in one process, as the tests do)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nexus_mesh.prometheus import ConsumerLagCollector

_HANDLE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)


@dataclass(kw_only=True)
class ServiceMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r, labels = self.registry, ["service"]
        self.handled = Counter(
            "nexus_service_events_handled",
            "Events a handler finished without error",
            [*labels, "type"],
            registry=r,
        )
        self.duplicates = Counter(
            "nexus_service_duplicates",
            "Records skipped because their event_id was already dealt with",
            labels,
            registry=r,
        )
        self.unhandled = Counter(
            "nexus_service_unhandled",
            "Records of a type no handler of this service takes",
            [*labels, "type"],
            registry=r,
        )
        self.dead_letters = Counter(
            "nexus_service_dlq",
            "Records written to <prefix>.dlq (undecodable, or the handler failed)",
            [*labels, "reason"],
            registry=r,
        )
        self.retries = Counter(
            "nexus_service_retries",
            "Handler attempts retried after a retriable error",
            labels,
            registry=r,
        )
        self.events_out = Counter(
            "nexus_service_events_out",
            "Events this service published (replies included)",
            [*labels, "type"],
            registry=r,
        )
        self.handle_seconds = Histogram(
            "nexus_service_handle_seconds",
            "Time from a record's arrival to its handler finishing",
            [*labels, "type"],
            buckets=_HANDLE_BUCKETS,
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "nexus_service_assigned_partitions",
            "Partitions the consumer group gave this instance",
            labels,
            registry=r,
        )
        self.lag = ConsumerLagCollector(
            "nexus_service_consumer_lag",
            "Records on an assigned partition not yet consumed by this instance",
        )
        r.register(self.lag)
