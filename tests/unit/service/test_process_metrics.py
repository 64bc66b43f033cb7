"""A service's ``/metrics`` carries the health of its process next to the service's own."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from nexus_mesh.prometheus import serve_metrics
from nexus_mesh.service import Service


def test_the_metrics_endpoint_shows_the_process() -> None:
    service = Service(name="probe")
    # The registry Service.run serves on NEXUS_SERVICE_METRICS_PORT.
    server = serve_metrics(service.metrics.registry, host="127.0.0.1", port=0)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.close()
    families = list(text_string_to_metric_families(text))
    samples = {sample.name: sample.value for family in families for sample in family.samples}
    # What an operator needs to see a leak or a restart loop: fds, memory, start time.
    assert samples["process_open_fds"] > 0
    assert samples["process_max_fds"] >= samples["process_open_fds"]
    assert samples["process_resident_memory_bytes"] > 0
    assert 0 < samples["process_start_time_seconds"] <= time.time()
    assert "process_cpu_seconds_total" in samples
    assert "python_info" in samples
    assert "python_gc_collections_total" in samples
    # ...next to the service's own metrics, not instead of them.
    assert "nexus_service_consumer_lag" in {family.name for family in families}


def test_the_same_port_answers_the_kubelet_s_probes() -> None:
    """``/healthz`` while the process serves, ``/readyz`` only once the service is ready
    (its consumer group joined), and ``/metrics`` as before."""
    ready = threading.Event()
    service = Service(name="probe")
    server = serve_metrics(service.metrics.registry, host="127.0.0.1", port=0, ready=ready.is_set)

    def get(path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{server.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        assert get("/healthz")[0] == 200
        assert get("/readyz") == (503, "starting\n")
        ready.set()
        assert get("/readyz") == (200, "ready\n")
        status, text = get("/metrics")
    finally:
        server.close()
    assert status == 200
    assert "process_open_fds" in text


def test_the_metrics_port_listens_on_ipv6_too() -> None:
    """An IPv6-only pod has no 0.0.0.0: the chart's ``search.listenHost: "::"`` must bind,
    or the kubelet's probes are refused and the pod restarts forever."""
    service = Service(name="probe")
    server = serve_metrics(service.metrics.registry, host="::1", port=0)
    try:
        with urllib.request.urlopen(f"http://[::1]:{server.port}/healthz", timeout=5) as answer:
            assert (answer.status, answer.read()) == (200, b"ok\n")
    finally:
        server.close()
