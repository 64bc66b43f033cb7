"""Prometheus pieces shared by the gateway and the services.

Consumer lag is computed when Prometheus scrapes, not on the delivery path: a scrape asks
its source (the gateway's next offsets, a service's committed offsets, each against the
high watermarks it already knows) and the hot path pays nothing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    make_wsgi_app,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from nexus_mesh.errors import (
    KafkaUnavailableError,
    ProduceRejectedError,
    TopicMissingError,
    WriteInDoubtError,
)

log = logging.getLogger(__name__)


def without_created_series() -> None:
    """Expose no ``*_created`` series (the process's metrics, from now on): each counter and
    histogram would otherwise carry a second series of its start time, doubling what
    Prometheus stores for a value ``process_start_time_seconds`` already gives."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client


# (topic, partition, records not yet consumed)
LagSample = tuple[str, int, int]
LagSource = Callable[[], Iterable[LagSample]]

# The ``outcome`` of a ``*_produce_latency_seconds`` observation: failed writes are timed
# too, since a client waits for them as long (up to the produce timeout) as for a success.
PRODUCE_OUTCOMES = ("ok", "in_doubt", "unavailable", "rejected", "topic_missing", "failed")


def produce_outcome(error: BaseException | None) -> str:
    """What became of a write: ``ok``, or why it was not confirmed."""
    if error is None:
        return "ok"
    if isinstance(error, WriteInDoubtError):
        return "in_doubt"
    if isinstance(error, KafkaUnavailableError):
        return "unavailable"
    if isinstance(error, ProduceRejectedError):
        return "rejected"
    if isinstance(error, TopicMissingError):
        return "topic_missing"
    return "failed"


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


@contextmanager
def timed_write(latency: Callable[[str], _Observer] | None) -> Iterator[None]:
    """Time the write in the block into ``latency(outcome)`` (a histogram's ``labels``),
    whatever its outcome: a failed write is waited for as long. Not when cancelled (the
    process is stopping), nor with no metrics (``None``)."""
    began = time.perf_counter()
    try:
        yield
    except Exception as exc:
        if latency is not None:
            latency(produce_outcome(exc)).observe(time.perf_counter() - began)
        raise
    if latency is not None:
        latency("ok").observe(time.perf_counter() - began)


# The buckets of every ``*_produce_latency_seconds`` (the gateway's and the services'): the
# same writes to the same cluster, so their histograms compare and aggregate bucket by bucket.
PRODUCE_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ConsumerLagCollector(Collector):
    """``<name>{topic, partition}``: the records of each assigned partition its source counts
    as not yet done (the gateway: not yet read; a service: not yet committed). A service's
    carries its ``service`` label too, as its other metrics do, so that alerts and dashboards
    group them alike."""

    def __init__(
        self, name: str, documentation: str, *, const_labels: Mapping[str, str] | None = None
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._const = dict(const_labels or {})
        self._source: LagSource | None = None

    def track(self, source: LagSource | None) -> None:
        """Report what ``source`` returns at each scrape (None: report nothing)."""
        self._source = source

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        source = self._source
        if source is not None:
            try:
                samples = list(source())
            except Exception:  # a scrape must never fail because the consumer is restarting
                log.debug("consumer lag unavailable", exc_info=True)
                samples = []
            const = list(self._const.values())
            for topic, partition, lag in samples:
                family.add_metric([*const, topic, str(partition)], max(lag, 0))
        yield family

    def _family(self) -> GaugeMetricFamily:
        labels = [*self._const, "topic", "partition"]
        return GaugeMetricFamily(self._name, self._documentation, labels=labels)


class MetricsServer:
    """``/metrics`` of one registry on its own thread, so a scrape is answered even while the
    event loop is busy; :meth:`close` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: probes and scrapes come every few seconds."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingServer6(_ThreadingServer):
    # "::" on Linux also takes IPv4 (dual stack); an IPv6-only pod has no 0.0.0.0 to bind.
    address_family = socket.AF_INET6


def serve_metrics(
    registry: CollectorRegistry,
    *,
    host: str,
    port: int,
    ready: Callable[[], bool] = lambda: True,
) -> MetricsServer:
    """Serve ``registry`` in Prometheus text format at ``http://host:port/metrics``.

    The same port answers the kubelet too: ``/healthz`` (200 while the process serves) and
    ``/readyz`` (200 once ``ready()`` is true, 503 before), so that a rollout waits for a new
    pod to be consuming before it stops an old one.
    """
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            status, body = "200 OK", b"ok\n"
        elif path == "/readyz" and ready():
            status, body = "200 OK", b"ready\n"
        elif path == "/readyz":
            status, body = "503 Service Unavailable", b"starting\n"
        else:
            served: Iterable[bytes] = metrics_app(environ, start_response)
            return served
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    wsgi = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=wsgi.serve_forever, name="metrics", daemon=True)
    thread.start()
    return MetricsServer(wsgi, thread)


def register_process_metrics(registry: CollectorRegistry) -> None:
    """The process's own metrics (``process_*``: open fds, memory, CPU, start time;
    ``python_*``: version, garbage collection) on a registry of the mesh's own, which the
    default registry's collectors never reach."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


SpanLossSource = Callable[[], Mapping[str, int]]

SPANS_DROPPED_HELP = (
    "Spans made but never exported, by reason: queue_full (the export queue was full), "
    "export_failed (the collector could not be reached in time), rejected (it refused them)"
)


class SpanLossCollector(Collector):
    """``<name>_total{reason}`` from a tracing pipeline's own counts (read at each scrape):
    a trace missing in the viewer then shows as lost, not as unsampled."""

    def __init__(self, name: str, *, const_labels: Mapping[str, str] | None = None) -> None:
        self._name = name
        self._const = dict(const_labels or {})
        self._source: SpanLossSource | None = None

    def track(self, source: SpanLossSource | None) -> None:
        self._source = source

    def describe(self) -> Iterable[CounterMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        counts = self._source() if self._source is not None else {}
        for reason, count in sorted(counts.items()):
            family.add_metric([*self._const.values(), reason], count)
        yield family

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self._name, SPANS_DROPPED_HELP, labels=[*self._const, "reason"])
