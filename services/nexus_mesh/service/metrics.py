"""A service's Prometheus metrics, in a registry of its own (one per :class:`Service`, so
several services can run in one process, as the tests do).

The registry also carries the process's own metrics (``process_*``: open fds, memory, CPU,
start time; ``python_*``: version, garbage collection): the endpoint is the only one a service
process serves, so without them a leak or a restart loop would be invisible to Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nexus_mesh.prometheus import (
    PRODUCE_LATENCY_BUCKETS,
    PRODUCE_OUTCOMES,
    ConsumerLagCollector,
    SpanLossCollector,
    register_process_metrics,
)

_HANDLE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)
# From milliseconds (a healthy service) to the ten minutes a backlog after an outage can take.
_AGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# The values of nexus_service_handle_seconds{outcome}: what became of a record a handler took.
HANDLED = "handled"
FAILED = "failed"  # raised (after its retries): the record went to the DLQ
TIMED_OUT = "timed_out"  # ran past handler_timeout_s: to the DLQ too (a TimeoutError the
# handler raises itself, e.g. from a downstream call, is FAILED unless retry_on lists it)
# Why a record was dead-lettered (the ``reason`` of ``nexus_service_dlq_total``).
DLQ_UNDECODABLE = "undecodable"
DLQ_HANDLER = "handler"
DLQ_REASONS = (DLQ_UNDECODABLE, DLQ_HANDLER)


@dataclass(kw_only=True)
class ServiceMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r, labels = self.registry, ["service"]
        self.events_in = Counter(
            "nexus_service_events_in",
            "Events read from the domain topic, by type, whatever became of them (handled, "
            "duplicate, unhandled or dead-lettered; undecodable records count under dlq)",
            [*labels, "type"],
            registry=r,
        )
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
            "Time from a record's arrival to its handler finishing, by outcome "
            "(handled, failed, timed_out; the last two were dead-lettered)",
            [*labels, "type", "outcome"],
            buckets=_HANDLE_BUCKETS,
            registry=r,
        )
        self.record_age = Histogram(
            "nexus_service_record_age_seconds",
            "Time from a record's Kafka timestamp to its handler starting: how long requests "
            "waited in Kafka and behind the partition's earlier records (a stopped, lagging or "
            "stuck service shows here before its handlers' own times do)",
            [*labels, "type"],
            buckets=_AGE_BUCKETS,
            registry=r,
        )
        self.produce_latency = Histogram(
            "nexus_service_produce_latency_seconds",
            "Event and dead-letter write latency until Kafka acknowledged it (acks=all, outcome "
            "ok) or the write failed (in_doubt, unavailable, rejected, topic_missing, failed)",
            [*labels, "outcome"],
            buckets=PRODUCE_LATENCY_BUCKETS,
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "nexus_service_assigned_partitions",
            "Partitions the consumer group gave this instance",
            labels,
            registry=r,
        )
        self.in_flight = Gauge(
            "nexus_service_handlers_in_flight",
            "Records being handled now, at most ServiceConfig.max_concurrency; at the limit "
            "while the lag grows, the instance needs more concurrency or more instances",
            labels,
            registry=r,
        )
        self.records_waiting = Gauge(
            "nexus_service_records_waiting",
            "Records fetched and waiting to start, over all assigned partitions: what the "
            "instance holds in memory beyond its handlers'. Fetching from a partition pauses "
            "while ServiceConfig.max_records of its records wait, so each partition holds "
            "fewer than twice that",
            labels,
            registry=r,
        )
        self.lag = ConsumerLagCollector(
            "nexus_service_consumer_lag",
            "Records on an assigned partition after the group's committed offset "
            "(high watermark - committed; - log start while nothing is committed)",
            const_labels={"service": self.service},
        )
        r.register(self.lag)
        self.spans_dropped = SpanLossCollector(
            "nexus_service_spans_dropped", const_labels={"service": self.service}
        )
        r.register(self.spans_dropped)
        # Every known label value starts at 0: a series that first appears at 1 has no
        # increase() in Prometheus, and an alert on a service's first dead letter would never
        # fire. Types are known only once seen; these labels are fixed.
        for reason in DLQ_REASONS:
            self.dead_letters.labels(self.service, reason)
        for metric in (self.duplicates, self.retries):
            metric.labels(self.service)
        for outcome in PRODUCE_OUTCOMES:
            self.produce_latency.labels(self.service, outcome)
        # They read process-wide state at each scrape, so several services in one process
        # each serving them report the same process, as they should.
        register_process_metrics(r)
