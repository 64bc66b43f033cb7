"""The gateway's Prometheus metrics, in a registry of its own (one per app, so tests can run
several gateways in one process)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nexus_gateway.auth import REFUSAL_CODES
from nexus_gateway.protocol import ErrorCode
from nexus_mesh.prometheus import (
    PRODUCE_LATENCY_BUCKETS,
    PRODUCE_OUTCOMES,
    ConsumerLagCollector,
    SpanLossCollector,
    register_process_metrics,
)
from nexus_mesh.registry import Flow


@dataclass(kw_only=True)
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    flows: InitVar[Iterable[Flow]] = ()
    """The registry's flows (known when the gateway starts): each one's timeout and request
    series start at 0, and ``nexus_gateway_flow_info`` says which request each timeout
    answers."""

    def __post_init__(self, flows: Iterable[Flow]) -> None:
        r = self.registry
        # process_open_fds above all: every WebSocket holds one, and the limit is per pod.
        register_process_metrics(r)
        self.spans_dropped = SpanLossCollector("nexus_gateway_spans_dropped")
        r.register(self.spans_dropped)
        self.connections = Gauge("nexus_gateway_connections", "Open client connections", registry=r)
        self.campaigns = Gauge(
            "nexus_gateway_campaigns", "Campaigns with a connection on this pod", registry=r
        )
        self.assigned_partitions = Gauge(
            "nexus_gateway_assigned_partitions",
            "Partitions this pod consumes",
            ["topic"],
            registry=r,
        )
        self.events_in = Counter(
            "nexus_gateway_events_in", "Client events accepted and written", ["type"], registry=r
        )
        self.events_out = Counter(
            "nexus_gateway_events_out",
            "Event frames queued for client connections (a slow consumer closed with 4008 "
            "drops what it had queued, and gets it again on resume)",
            ["type"],
            registry=r,
        )
        self.errors = Counter(
            "nexus_gateway_errors", "nexus.error answers by code", ["code"], registry=r
        )
        self.acks = Counter("nexus_gateway_acks", "nexus.ack answers", registry=r)
        self.slow_closes = Counter(
            "nexus_gateway_slow_consumer_closes", "Connections closed with 4008", registry=r
        )
        self.auth_failures = Counter(
            "nexus_gateway_auth_failures",
            "Refused connections by close code (4001, 4003) and reason (missing, "
            "token_in_url, malformed, bad_algorithm, bad_signature, missing_claim, "
            "invalid_claim, wrong_audience, wrong_issuer, subject_mismatch, expired, "
            "not_yet_valid; no_campaigns, campaign_forbidden for 4003), or code and reason "
            "origin: a handshake from a browser origin NEXUS_GATEWAY_ALLOWED_ORIGINS does not "
            "list (HTTP 403)",
            ["code", "reason"],
            registry=r,
        )
        self.closes = Counter(
            "nexus_gateway_connection_closes",
            "Connections ended, by close code (1000 by the client, 1001 going away, 1006 "
            "dropped, 1009 frame too large, 1011 server error, 4001 refused token or token "
            "expired, 4003 campaign refused, 4008, 4009; other). Refused handshakes count "
            "here too: they are accepted, then closed with 4001 or 4003",
            ["code"],
            registry=r,
        )
        for code in CLOSE_CODE_LABELS:
            self.closes.labels(code)
        self.token_expiries = Counter(
            "nexus_gateway_token_expiry_closes",
            "Open connections closed with 4001 because their token expired",
            registry=r,
        )
        self.idempotency_evictions = Counter(
            "nexus_gateway_idempotency_evictions",
            "Idempotency entries pushed out by NEXUS_GATEWAY_IDEMPOTENCY_MAX_ENTRIES or "
            "_PER_USER before their window ended: a resend of those events would be written "
            "again",
            registry=r,
        )
        self.delivery_failures = Counter(
            "nexus_gateway_delivery_failures",
            "Records skipped because the gateway failed delivering them (a fault of its own, "
            "logged with its traceback), not because they could not be decoded",
            registry=r,
        )
        self.records_lost = Counter(
            "nexus_gateway_records_lost",
            "Client-bound records deleted from Kafka (retention, delete-records) before this "
            "pod delivered them, by topic: its read position fell behind the log start; the "
            "connections of that partition were closed with 1001 and resume recovered=false",
            ["topic"],
            registry=r,
        )
        self.undecodable = Counter(
            "nexus_gateway_undecodable_records",
            "Client-bound records that failed to decode",
            registry=r,
        )
        self.misrouted = Counter(
            "nexus_gateway_misrouted_records",
            "Client-bound records skipped because their campaign belongs to another partition "
            "(a producer partitioning other than murmur2 on the campaign key, or a topic whose "
            "partition count changed), their nexus-campaign header names another campaign "
            "than their envelope, their type is not one the manifest sends on that topic, or "
            "a broadcast names a campaign, user or connection",
            registry=r,
        )
        self.oversized = Counter(
            "nexus_gateway_oversized_deliveries",
            "Client-bound events not sent because their frame is over "
            "NEXUS_GATEWAY_MAX_DELIVERY_BYTES (live and replayed; a reply skipped so gets its "
            "flow's timeout)",
            ["type"],
            registry=r,
        )
        self.flow_timeouts = Counter(
            "nexus_gateway_flow_timeouts",
            "Requests answered by a gateway timeout event, by the timeout's type",
            ["type"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "nexus_gateway_request_seconds",
            "A request's round trip as its client waits for it, by flow: from its frame to "
            "its reply reaching the requester's connection (the write to Kafka, the service, "
            "the reply's way back); requests that timed out are in flow_timeouts_total instead",
            ["flow"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        # A timeout's type is not its request's (search.timeout, search.requested), and
        # several flows may share one: this joins nexus_gateway_events_in_total (by request)
        # to nexus_gateway_flow_timeouts_total (by timeout), for the share of requests that
        # time out.
        self.flow_info = Gauge(
            "nexus_gateway_flow_info",
            "1 for each flow the gateway serves: the request type it accepts and the type of "
            "the timeout event it answers it with when no reply comes",
            ["flow", "request", "timeout"],
            registry=r,
        )
        self.replays = Gauge(
            "nexus_gateway_replays",
            "Resumes catching up from Kafka, by state: running (holding one of the pod's "
            "replay slots) or waiting (for a slot, or for the same user's replay before it)",
            ["state"],
            registry=r,
        )
        for state in ("running", "waiting"):
            self.replays.labels(state)
        self.replays_unfinished = Counter(
            "nexus_gateway_replays_unfinished",
            "Resumes whose replay did not finish, by reason: slot_timeout (no replay slot "
            "within NEXUS_GATEWAY_REPLAY_TIMEOUT_S), replay_timeout (not done within it of "
            "getting one), kafka_error, failed (a fault of the gateway's own, logged with its "
            "traceback): their connection was closed with 1001 to resume again; and gone (the "
            "connection ended first, e.g. the client left: no failure)",
            ["reason"],
            registry=r,
        )
        for reason in REPLAY_UNFINISHED_REASONS:
            self.replays_unfinished.labels(reason)
        self.resumes = Counter(
            "nexus_gateway_resumes",
            "Connections that asked to resume, by whether their position was honoured",
            ["recovered"],
            registry=r,
        )
        self.produce_latency = Histogram(
            "nexus_gateway_produce_latency_seconds",
            "Client event write latency until Kafka acknowledged it (acks=all, outcome ok) or "
            "the write failed (in_doubt, unavailable, rejected, topic_missing, failed)",
            ["outcome"],
            buckets=PRODUCE_LATENCY_BUCKETS,
            registry=r,
        )
        for outcome in PRODUCE_OUTCOMES:
            self.produce_latency.labels(outcome)
        # From the Kafka record's timestamp (when its producer wrote it) to the frame being
        # handed to the client's socket: what a client waits beyond the producer's write.
        self.delivery_latency = Histogram(
            "nexus_gateway_delivery_latency_seconds",
            "Kafka record timestamp to the socket taking the frame, once per live record: "
            "for its last target, when that connection took it (never for replays or the "
            "gateway's own timeout events)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.consumer_lag = ConsumerLagCollector(
            "nexus_gateway_consumer_lag",
            "Records on an assigned partition not yet read by this pod (high watermark - next)",
        )
        r.register(self.consumer_lag)
        # Every known label value starts at 0: a series that first appears at 1 has no
        # increase() in Prometheus, and an alert on the first Kafka refusal or the first
        # unrecovered resume would never fire. So do each flow's timeouts and requests (the
        # share NexusGatewayRequestsTimingOut reads).
        for code in ErrorCode:
            self.errors.labels(str(code))
        for reason, close_code in REFUSAL_CODES.items():
            self.auth_failures.labels(str(close_code), reason)
        self.auth_failures.labels(ORIGIN_REFUSED, ORIGIN_REFUSED)
        for recovered in ("true", "false"):
            self.resumes.labels(recovered)
        for flow in flows:
            self.flow_timeouts.labels(flow.timeout_type)
            self.events_in.labels(flow.request)
            self.flow_info.labels(flow.name, flow.request, flow.timeout_type).set(1)
            self.request_seconds.labels(flow.name)

    def count_close(self, code: int) -> None:
        label = str(code)
        self.closes.labels(label if label in CLOSE_CODE_LABELS else "other").inc()


# The code and reason of a handshake refused for its browser origin (an HTTP 403, so no close
# code): one label value for both, so sum by (code) reads as it did before reasons existed.
ORIGIN_REFUSED = "origin"

# Why a replay did not finish; all but "gone" closed the connection with 1001.
REPLAY_UNFINISHED_REASONS = ("slot_timeout", "replay_timeout", "kafka_error", "failed", "gone")

# A bounded label set: a client may close with any code it likes.
CLOSE_CODE_LABELS = (
    "1000",
    "1001",
    "1006",
    "1009",
    "1011",
    "4001",
    "4003",
    "4008",
    "4009",
    "other",
)
