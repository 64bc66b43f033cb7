"""Helpers shared by the test suites: waiting on conditions with deadlines, never sleeping."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from nexus_mesh.service.publisher import Publisher
    from nexus_mesh.settings import NexusSettings

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Synchronous twin of :func:`eventually` for fixtures and subprocess checks."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass(frozen=True)
class CliRun:
    status: int
    stdout: str
    stderr: str


async def run_nexus(*args: str, env: Mapping[str, str], timeout_s: float = 60) -> CliRun:
    """Run the real ``nexus`` CLI in a child process with only ``env``'s NEXUS_* settings
    (the test runner's own NEXUS_* variables are left out) and wait for it to end."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    environ.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nexus_mesh.cli",
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return CliRun(process.returncode, stdout.decode(), stderr.decode())


async def run_nexus_on(settings: NexusSettings, *args: str) -> CliRun:
    """``run_nexus`` against the cluster, prefix and partition counts of ``settings``."""
    return await run_nexus(
        *args,
        env={
            "NEXUS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "NEXUS_TOPIC_PREFIX": settings.topic_prefix,
            "NEXUS_CLIENTS_PARTITIONS": str(settings.clients_partitions),
            "NEXUS_DOMAIN_PARTITIONS": str(settings.domain_partitions),
            "NEXUS_DLQ_PARTITIONS": str(settings.dlq_partitions),
        },
    )


def registry_copy(
    root: Path,
    edit: Callable[[dict[str, Any]], None],
    *,
    schemas: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A copy of the shipped registry under ``root``, its manifest changed by ``edit`` and
    ``schemas`` (relative path: Avro schema) added (for processes started with
    ``NEXUS_SCHEMAS_DIR`` pointing at it)."""
    import orjson

    from nexus_mesh.settings import default_schemas_dir

    target = root / "schemas"
    shutil.copytree(default_schemas_dir(), target)
    manifest = orjson.loads((target / "manifest.json").read_bytes())
    edit(manifest)
    (target / "manifest.json").write_bytes(orjson.dumps(manifest))
    for relative, schema in (schemas or {}).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(schema))
    return target


def schemas_with_flow_timeout(root: Path, timeout_ms: int, *, flow: str = "search") -> Path:
    """A copy of the registry under ``root`` whose ``flow`` times out after ``timeout_ms``."""
    return registry_copy(root, lambda m: m["flows"][flow].update(timeout_ms=timeout_ms))


class ManualClock:
    """Seconds a test moves by hand, for components that take their clock injected."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def gateway_stats(admin_url: str) -> dict[str, Any]:
    """A gateway process's admin ``/stats`` document."""
    import orjson

    def get() -> dict[str, Any]:
        with urllib.request.urlopen(admin_url + "/stats", timeout=5) as response:
            document: dict[str, Any] = orjson.loads(response.read())
            return document

    return await asyncio.to_thread(get)


async def gateway_connections(admin_url: str) -> int:
    """How many client connections a gateway process holds (its admin ``/stats``)."""
    return int((await gateway_stats(admin_url))["connections"])


MetricSamples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Prometheus samples by name and label set."""


async def scrape_metrics(url: str) -> MetricSamples:
    """Every sample a process serves at ``url`` + ``/metrics``, parsed as Prometheus does."""
    from prometheus_client.parser import text_string_to_metric_families

    def get() -> str:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(get)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric_value(samples: MetricSamples, name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly ``labels``; None when the process serves none."""
    return samples.get((name, frozenset(labels.items())))


async def write_big_gap(publisher: Publisher) -> None:
    """What a resume in campaign A has to replay: 1,000 updates of ~16 KB (~16 MB, more than
    the socket buffers and a connection's outbox take); then one update in campaign B."""
    blob = "x" * 16_000
    for n in range(1_000):
        await publisher.publish(
            "campaign.updated",
            {"status": str(n), "changes": {"blob": blob}, "updated_at": n},
            campaign_id="A",
        )
    await publisher.publish(
        "campaign.updated", {"status": "for alice", "updated_at": 1}, campaign_id="B"
    )
