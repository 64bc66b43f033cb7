"""Main flow on real processes: search round trips at a fixed rate, and one campaign's fan-out.

Starts its own single-node Kafka (or uses ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``), creates the
topics under a fresh prefix, and runs one gateway and one search service as the real
``python -m nexus_mesh.cli gateway`` / ``service search`` processes on 127.0.0.1, with
tracing off (``--otel`` keeps the environment's ``OTEL_*``). Then:

1. Search round trip: an open-loop generator sends ``search`` requests at ``--rate`` per
   second, spread round-robin over ``--connections`` MeshClient sessions in ``--campaigns``
   campaigns, and times each ``client.request`` from send to reply. ``--runs`` measured
   windows of ``--seconds`` each follow one ``--warmup`` window; then one shorter run at each
   of ``--knee-rates`` shows how the latency moves with the rate.
2. Fan-out: ``--subscribers`` raw WebSocket sessions join one campaign. Burst runs produce
   ``--events`` ``campaign.updated`` records to ``<prefix>.clients`` at once; deliveries/s is
   deliveries received / (first publish -> last subscriber got the last event). Paced runs
   produce ``--paced-rate`` events/s for ``--paced-seconds`` and report the per-delivery
   latency. Every subscriber checks it got each event exactly once and in order.

CPU seconds of the gateway, the search service, the broker, the bench itself and the rest of
the machine are read from /proc over each measured window, to show which process limits the
rate and whether something else disturbed the run. Writes the "Main flow (issue 4)" section
of docs/benchmarks.md (``--no-doc`` to skip) and prints it. About two minutes:

    .venv/bin/python -m bench.mainflow_bench [--runs 3] [--seconds 15] [--events 1000]

Bounded: every wait has a deadline, and every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType
from aiokafka import AIOKafkaProducer

from nexus_mesh.client import MeshClient, MeshClosedError, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.records import Headers, record_headers, record_key
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.registry import load_registry
from nexus_mesh.service import EventFactory
from nexus_mesh.settings import NexusSettings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION_TITLE = "## Main flow (issue 4)"
BEGIN_MARK = "<!-- mainflow:begin (written by bench/mainflow_bench.py) -->"
END_MARK = "<!-- mainflow:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What people type into the search box of a ticketing/events app: FAQ questions, artists,
# cities, venues, sports; some match nothing, some match many documents.
QUERIES = (
    "refund policy",
    "how do I reset my password",
    "cancelled event refund",
    "postponed concert",
    "mobile tickets entry",
    "print tickets",
    "transfer ticket to a friend",
    "resale tickets",
    "promo code not working",
    "delete my account",
    "two-step verification",
    "change email address",
    "lost property",
    "first aid venue",
    "accessible seating wheelchair",
    "venue changed",
    "london arena",
    "concert hall oslo",
    "football fixture",
    "rugby international series",
    "cricket twenty20 manchester",
    "handball copenhagen",
    "ice hockey helsinki",
    "jazz festival",
    "folk gathering 2026",
    "music festival camping",
    "symphony orchestra prague",
    "open source summit",
    "fintech conference london",
    "indie game developers malmo",
    "getting to events in paris",
    "travel barcelona",
    "parking near the stadium",
    "berlin techno",
    "tokyo venue guide",
    "basketball tickets",
    "melbourne",
    "new york",
    "sso for agencies",
    "kafka avro websocket",  # matches nothing in a ticketing catalog
)


# -- processes and /proc ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (all its threads), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


OTHER = "rest of the machine"


class CpuWindow:
    """CPU seconds each named process, and the whole machine, used between start and stop.

    ``OTHER`` is the machine's busy time minus the named processes: anything else running
    (another test suite, the kernel's softirq work not charged to a process) shows up there.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._began: dict[str, float | None] = {}
        self._machine = 0.0
        self._t0 = 0.0
        self.seconds: dict[str, float] = {}
        self.wall = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._machine = machine_busy_seconds()
        self._began = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        for name, pid in self._pids.items():
            now, then = cpu_seconds(pid), self._began.get(name)
            if now is not None and then is not None:
                self.seconds[name] = now - then
        busy = machine_busy_seconds() - self._machine
        self.seconds[OTHER] = max(0.0, busy - sum(self.seconds.values()))

    def cores(self, name: str) -> float | None:
        used = self.seconds.get(name)
        return used / self.wall if used is not None and self.wall > 0 else None


async def scrape_metrics(session: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """The gateway's /metrics, each metric name summed over its labels."""
    totals: dict[str, float] = {}
    async with session.get(base_url + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def metric_delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Mesh:
    """The broker (ours or the environment's), the topics, one gateway, one search service."""

    workdir: Path
    gateway_env: dict[str, str]
    tracing: bool = False
    kafka: LocalKafka | None = None
    bootstrap: str = ""
    prefix: str = ""
    settings: NexusSettings | None = None
    gateway: Child | None = None
    search: Child | None = None
    gateway_url: str = ""
    children: list[Child] = field(default_factory=list)

    @property
    def kafka_version(self) -> str:
        if self.kafka is not None:
            return f"Apache Kafka {self.kafka.version} (KRaft, 1 node, started by the bench)"
        return f"external broker at {self.bootstrap} (version not probed)"

    def broker_pid(self) -> int | None:
        if self.kafka is None:
            return None
        nodes = self.kafka.status().nodes
        return nodes[0].pid if nodes else None

    def pids(self) -> dict[str, int]:
        pids = {CLIENT: os.getpid()}
        if self.gateway is not None:
            pids["gateway"] = self.gateway.process.pid
        if self.search is not None:
            pids["search service"] = self.search.process.pid
        broker = self.broker_pid()
        if broker is not None:
            pids["kafka broker"] = broker
        return pids

    async def start(self) -> None:
        external = os.environ.get("NEXUS_KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.bootstrap = external
        else:
            self.kafka = LocalKafka(self.workdir / "kafka")
            self.bootstrap = await asyncio.to_thread(self.kafka.start, nodes=1, port=0)
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.settings = load_settings(
            kafka_bootstrap_servers=self.bootstrap, topic_prefix=self.prefix
        )
        registry = load_registry(self.settings.schemas_dir)
        await ensure_topics(self.settings, registry.domains)
        port = free_port()
        self.gateway_url = f"http://127.0.0.1:{port}"
        self.gateway = self._spawn(
            "gateway",
            ["gateway"],
            NEXUS_GATEWAY_HOST="127.0.0.1",
            NEXUS_GATEWAY_PORT=str(port),
            NEXUS_GATEWAY_INSTANCE="bench-gateway",
            NEXUS_LOG_LEVEL="WARNING",
            **self.gateway_env,
        )
        # INFO only for its start-up lines ("service search ready"); it logs nothing per event.
        self.search = self._spawn("search", ["service", "search"], NEXUS_LOG_LEVEL="INFO")
        await self._wait_ready()

    def _spawn(self, name: str, args: list[str], **extra: str) -> Child:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
        if not self.tracing:
            env["OTEL_SDK_DISABLED"] = "true"
        env.update(
            NEXUS_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            NEXUS_TOPIC_PREFIX=self.prefix,
            NEXUS_AUTH="none",
        )
        env.update(extra)
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "nexus_mesh.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        child = Child(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    async def _wait_ready(self, timeout: float = 60.0) -> None:
        assert self.gateway is not None
        assert self.search is not None
        deadline = time.monotonic() + timeout
        gateway_ready = search_ready = False
        async with aiohttp.ClientSession() as session:
            while not (gateway_ready and search_ready):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mesh not ready within {timeout:.0f} s\n--- gateway:\n"
                        f"{self.gateway.log()[-3000:]}\n--- search:\n{self.search.log()[-3000:]}"
                    )
                for child in self.children:
                    if child.process.poll() is not None:
                        raise RuntimeError(f"{child.name} exited at start:\n{child.log()[-3000:]}")
                if not gateway_ready:
                    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                        async with session.get(
                            self.gateway_url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                        ) as response:
                            gateway_ready = response.status == 200
                search_ready = search_ready or "service search ready" in self.search.log()
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.kafka is not None:
            self.kafka.stop()


def background_load(seconds: float = 2.0) -> float:
    """Busy cores of the machine before the bench starts anything (other work running)."""
    began, t0 = machine_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (machine_busy_seconds() - began) / (time.perf_counter() - t0)


def code_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head} + uncommitted changes in {len(dirty)} files" if dirty else head


def raise_fd_limit(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            return f"open files raised {soft} -> {target} (hard limit; {needed} wanted)"
        return f"open files raised {soft} -> {target} (inherited by the gateway)"
    return f"open files limit {soft} (enough; {needed} needed)"


# -- statistics -------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    real = [v for v in values if not math.isnan(v)]
    return statistics.median(real) if real else math.nan


# -- 1. search round trips --------------------------------------------------------------------


@dataclass
class SearchRun:
    label: str
    offered_rate: float
    sent: int = 0
    completed: int = 0
    failed: int = 0  # search.failed replies
    gateway_timeouts: int = 0  # search.timeout replies
    errors: dict[str, int] = field(default_factory=dict)  # nexus.error codes, client timeouts
    latencies_ms: list[float] = field(default_factory=list)  # replies of any type
    lags_ms: list[float] = field(default_factory=list)  # send time minus scheduled time
    # The reply's metadata.time is when the service built it (wall clock, whole ms): it splits
    # a round trip into "request to service reply" and "reply back to the client".
    to_service_ms: list[float] = field(default_factory=list)
    back_ms: list[float] = field(default_factory=list)
    hits: int = 0
    span_s: float = 0.0
    produce_ms: float = math.nan  # the gateway's mean write-until-acks=all, from /metrics
    cpu: CpuWindow | None = None

    @property
    def achieved_rate(self) -> float:
        answered = len(self.latencies_ms)
        return answered / self.span_s if self.span_s > 0 else 0.0

    def pct(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> str:
        return (
            f"{self.achieved_rate:.1f} replies/s, p50 {self.pct(50):.1f} ms, p99 "
            f"{self.pct(99):.1f} ms, max {self.pct(100):.1f} ms, errors+timeouts "
            f"{self.error_count + self.gateway_timeouts}; p50 to service reply "
            f"{percentile(sorted(self.to_service_ms), 50):.1f} ms, back "
            f"{percentile(sorted(self.back_ms), 50):.1f} ms"
        )


async def open_loop(
    clients: list[MeshClient],
    *,
    rate: float,
    seconds: float,
    rng: random.Random,
    timeout: float,
    label: str,
    cpu: CpuWindow | None = None,
) -> SearchRun:
    """Send ``rate`` x ``seconds`` requests on a fixed schedule, whatever the replies do."""
    loop = asyncio.get_running_loop()
    total = round(rate * seconds)
    result = SearchRun(label=label, offered_rate=rate)
    pending: set[asyncio.Task[None]] = set()
    ends: list[float] = []

    def count(kind: str) -> None:
        result.errors[kind] = result.errors.get(kind, 0) + 1

    async def one(index: int, scheduled: float) -> None:
        client = clients[index % len(clients)]
        query = rng.choice(QUERIES)
        sent = loop.time()
        sent_wall_ms = time.time() * 1000
        result.lags_ms.append((sent - scheduled) * 1000)
        try:
            reply = await client.request("search", {"query": query}, timeout=timeout)
        except TimeoutError:
            count("client timeout")
            return
        except MeshError as exc:
            count(f"nexus.error {exc.code}")
            return
        except MeshClosedError as exc:
            count(f"closed {exc.close_code}")
            return
        done = loop.time()
        done_wall_ms = time.time() * 1000
        ends.append(done)
        result.latencies_ms.append((done - sent) * 1000)
        built = reply.metadata.get("time")
        if isinstance(built, int):
            result.to_service_ms.append(built - sent_wall_ms)
            result.back_ms.append(done_wall_ms - built)
        if reply.type == "search.completed":
            result.completed += 1
            result.hits += len(reply.payload.get("hits") or ())
        elif reply.type == "search.timeout":
            result.gateway_timeouts += 1
        else:
            result.failed += 1

    if cpu is not None:
        cpu.start()
    start = loop.time() + 0.01
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=timeout + 5)
    if cpu is not None:
        cpu.stop()
    result.sent = total
    result.span_s = (max(ends) - start) if ends else 0.0
    result.cpu = cpu
    return result


async def wait_for_search(base_url: str, session: aiohttp.ClientSession, timeout: float) -> None:
    """One request answered end to end: the service's consumer group is really serving."""
    deadline = time.monotonic() + timeout
    async with MeshClient.connect(
        base_url, campaign_id="bench-probe", user_id="probe", session=session
    ) as client:
        while True:
            with contextlib.suppress(TimeoutError, MeshError):
                reply = await client.request("search", {"query": "refund"}, timeout=5)
                if reply.type == "search.completed":
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no search reply within {timeout:.0f} s")
            await asyncio.sleep(0.5)


async def measured_search(
    mesh: Mesh,
    session: aiohttp.ClientSession,
    clients: list[MeshClient],
    rng: random.Random,
    args: argparse.Namespace,
    *,
    rate: float,
    seconds: float,
    label: str,
) -> SearchRun:
    before = await scrape_metrics(session, mesh.gateway_url)
    result = await open_loop(
        clients,
        rate=rate,
        seconds=seconds,
        rng=rng,
        timeout=args.request_timeout,
        label=label,
        cpu=CpuWindow(mesh.pids()),
    )
    after = await scrape_metrics(session, mesh.gateway_url)
    name = "nexus_gateway_produce_latency_seconds"
    writes = metric_delta(before, after, f"{name}_count")
    if writes:
        result.produce_ms = metric_delta(before, after, f"{name}_sum") / writes * 1000
    return result


async def search_phase(
    mesh: Mesh, args: argparse.Namespace
) -> tuple[list[SearchRun], list[SearchRun]]:
    """The measured runs at ``--rate``, then one shorter run at each ``--knee-rates``."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_for_search(mesh.gateway_url, session, timeout=60)
        clients = [
            await MeshClient.connect(
                mesh.gateway_url,
                campaign_id=f"bench-search-{index % args.campaigns}",
                user_id=f"searcher-{index}",
                session=session,
            )
            for index in range(args.connections)
        ]
        rng = random.Random(4)  # query choice only
        try:
            print(f"search: warm-up {args.warmup:g} s at {args.rate:g}/s", flush=True)
            await open_loop(
                clients,
                rate=args.rate,
                seconds=args.warmup,
                rng=rng,
                timeout=args.request_timeout,
                label="warm-up",
            )
            runs = []
            for run in range(1, args.runs + 1):
                result = await measured_search(
                    mesh,
                    session,
                    clients,
                    rng,
                    args,
                    rate=args.rate,
                    seconds=args.seconds,
                    label=str(run),
                )
                print(f"search run {run} at {args.rate:g}/s: {result.summary()}", flush=True)
                runs.append(result)
            knee = []
            for rate in args.knee_rates:
                result = await measured_search(
                    mesh,
                    session,
                    clients,
                    rng,
                    args,
                    rate=rate,
                    seconds=args.knee_seconds,
                    label=f"{rate:g}/s",
                )
                print(f"search at {rate:g}/s: {result.summary()}", flush=True)
                knee.append(result)
            return runs, knee
        finally:
            await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


# -- 2. fan-out -------------------------------------------------------------------------------


@dataclass
class FanoutRound:
    """What every subscriber expects in one run; ``done`` is set once all have everything."""

    prefix: str
    events: int
    remaining: int
    frame_bytes: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Subscriber:
    """One raw WebSocket in the campaign. Per frame: one orjson parse, the event id checked
    against what this run expects (exactly once, in order), and the arrival time kept."""

    __slots__ = (
        "close_code",
        "disorder",
        "dups",
        "first_t",
        "high",
        "last_t",
        "round",
        "seen",
        "stray",
        "times",
        "unique",
        "ws",
    )

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.round: FanoutRound | None = None
        self.seen = bytearray()
        self.times = array("d")
        self.unique = self.dups = self.disorder = self.stray = 0
        self.high = -1
        self.first_t = self.last_t = 0.0
        self.close_code: int | None = None

    def expect(self, round_: FanoutRound) -> None:
        self.round = round_
        self.seen = bytearray(round_.events)
        self.times = array("d", bytes(8 * round_.events))
        self.unique = self.dups = self.disorder = self.stray = 0
        self.high = -1
        self.first_t = self.last_t = 0.0

    async def read(self) -> None:
        ws = self.ws
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                self._on_frame(message.data)
            elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                self.close_code = ws.close_code
                return
            elif message.type is WSMsgType.ERROR:
                self.close_code = -1
                return

    def _on_frame(self, data: str) -> None:
        now = time.perf_counter()
        round_ = self.round
        event_id = orjson.loads(data)["metadata"].get("event_id", "")
        if round_ is None or not event_id.startswith(round_.prefix):
            self.stray += 1
            return
        seq = int(event_id[len(round_.prefix) :])
        if self.seen[seq]:
            self.dups += 1
            return
        self.seen[seq] = 1
        self.times[seq] = now
        if seq < self.high:
            self.disorder += 1
        else:
            self.high = seq
        if not self.unique:
            self.first_t = now
            if not round_.frame_bytes:
                round_.frame_bytes = len(data.encode())
        self.unique += 1
        self.last_t = now
        if self.unique == round_.events:
            round_.remaining -= 1
            if round_.remaining == 0:
                round_.done.set()


@dataclass
class FanoutRun:
    label: str
    events: int
    subscribers: int
    offered_events_per_s: float | None  # None: every event enqueued at once
    frame_bytes: int
    acked_s: float
    first_s: float
    last_s: float
    received: int
    lost: int
    dups: int
    disorder: int
    stray: int
    closed: int
    gateway_frames: float  # nexus_gateway_events_out delta: frames queued by the gateway
    slow_closes: float
    latency_ms: list[float]  # publish -> receipt of every delivery, ascending
    cpu: CpuWindow

    @property
    def deliveries(self) -> int:
        return self.events * self.subscribers

    @property
    def rate(self) -> float:
        return self.received / self.last_s if self.last_s > 0 else 0.0

    def lat(self, q: float) -> float:
        return percentile(self.latency_ms, q)

    def cpu_us_per_delivery(self, name: str) -> float:
        used = self.cpu.seconds.get(name)
        if used is None or not self.received:
            return math.nan
        return used / self.received * 1e6

    def summary(self) -> str:
        latency = (
            f"latency p50 {self.lat(50):.0f} ms p99 {self.lat(99):.0f} ms, "
            if self.offered_events_per_s
            else ""
        )
        return (
            f"{self.rate:,.0f} deliveries/s ({self.received:,}/{self.deliveries:,} in "
            f"{self.last_s:.2f} s), {latency}lost {self.lost}, dup {self.dups}, "
            f"out of order {self.disorder}; cores: gateway "
            f"{fmt(self.cpu.cores('gateway'))}, bench client {fmt(self.cpu.cores(CLIENT))}, "
            f"{OTHER} {fmt(self.cpu.cores(OTHER))}"
        )


@dataclass
class FanoutSetup:
    subscribers: int
    connect_s: float
    gateway_rss_before_kib: int | None
    gateway_rss_after_kib: int | None
    fd_note: str

    @property
    def kib_per_connection(self) -> float:
        if self.gateway_rss_before_kib is None or self.gateway_rss_after_kib is None:
            return math.nan
        return (self.gateway_rss_after_kib - self.gateway_rss_before_kib) / self.subscribers


@dataclass
class Fanout:
    """Everything one fan-out run needs."""

    mesh: Mesh
    session: aiohttp.ClientSession
    factory: EventFactory
    codec: Codec
    producer: AIOKafkaProducer
    campaign: str
    subscribers: list[Subscriber]

    def records(self, prefix: str, events: int) -> list[tuple[bytes, bytes, Headers]]:
        """Encoded ahead of the clock: the window measures the mesh, not the encoding."""
        out = []
        for seq in range(events):
            envelope = self.factory.envelope(
                "campaign.updated",
                campaign_updated_payload(seq),
                campaign_id=self.campaign,
                event_id=f"{prefix}{seq:06d}",
            )
            out.append(
                (self.codec.encode(envelope), record_key(envelope), record_headers(envelope))
            )
        return out

    async def run(self, label: str, events: int, per_s: float | None) -> FanoutRun:
        subscribers = self.subscribers
        prefix = f"fanout-{label}-"
        round_ = FanoutRound(prefix=prefix, events=events, remaining=len(subscribers))
        for sub in subscribers:
            sub.expect(round_)
        records = self.records(prefix, events)
        topic = self.factory.topic_of("campaign.updated")
        published = array("d", bytes(8 * events))
        before = await scrape_metrics(self.session, self.mesh.gateway_url)
        cpu = CpuWindow(self.mesh.pids())
        cpu.start()
        t0 = time.perf_counter()
        # Enqueued one after another so Kafka gets them in this order; acks awaited together.
        futures = []
        for seq, (value, key, headers) in enumerate(records):
            if per_s is not None:
                delay = t0 + seq / per_s - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            published[seq] = time.perf_counter()
            futures.append(await self.producer.send(topic, value=value, key=key, headers=headers))
        await asyncio.gather(*futures)
        acked_s = time.perf_counter() - t0
        deliveries = events * len(subscribers)
        budget = (events / per_s if per_s else 0.0) + max(30.0, deliveries / 20_000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(round_.done.wait(), budget)
        cpu.stop()
        after = await scrape_metrics(self.session, self.mesh.gateway_url)
        received = sum(sub.unique for sub in subscribers)
        got_any = [sub for sub in subscribers if sub.unique]
        latency = sorted(
            (sub.times[seq] - published[seq]) * 1000
            for sub in subscribers
            for seq in range(events)
            if sub.seen[seq]
        )
        return FanoutRun(
            label=label,
            events=events,
            subscribers=len(subscribers),
            offered_events_per_s=per_s,
            frame_bytes=round_.frame_bytes,
            acked_s=acked_s,
            first_s=(min(sub.first_t for sub in got_any) - t0) if got_any else math.nan,
            last_s=(max(sub.last_t for sub in got_any) - t0) if got_any else math.nan,
            received=received,
            lost=deliveries - received,
            dups=sum(sub.dups for sub in subscribers),
            disorder=sum(sub.disorder for sub in subscribers),
            stray=sum(sub.stray for sub in subscribers),
            closed=sum(1 for sub in subscribers if sub.close_code is not None),
            gateway_frames=metric_delta(before, after, "nexus_gateway_events_out_total"),
            slow_closes=metric_delta(before, after, "nexus_gateway_slow_consumer_closes_total"),
            latency_ms=latency,
            cpu=cpu,
        )


async def connect_subscribers(
    session: aiohttp.ClientSession, base_url: str, campaign: str, count: int
) -> list[Subscriber]:
    gate = asyncio.Semaphore(50)
    ws_base = base_url.replace("http://", "ws://", 1)

    async def one(index: int) -> Subscriber:
        async with gate:
            ws = await session.ws_connect(f"{ws_base}/ws/{campaign}/sub-{index}", autoping=True)
            welcome = await ws.receive(timeout=30)
            if welcome.type is not WSMsgType.TEXT or "nexus.welcome" not in welcome.data:
                raise RuntimeError(f"subscriber {index}: expected a welcome, got {welcome!r}")
            return Subscriber(ws)

    return list(await asyncio.gather(*(one(index) for index in range(count))))


def campaign_updated_payload(seq: int) -> dict[str, Any]:
    statuses = ("draft", "scheduled", "live", "paused", "live", "closed")
    return {
        "name": f"Summer Festival 2026 - wave {seq % 7 + 1}",
        "status": statuses[seq % len(statuses)],
        "changes": {
            "capacity": str(12_000 + seq),
            "doors_open": "18:30",
            "headliner": "The Meridian Symphony Orchestra",
        },
        "updated_at": int(time.time() * 1000),
    }


async def fanout_phase(
    mesh: Mesh, args: argparse.Namespace, fd_note: str
) -> tuple[FanoutSetup, list[FanoutRun], list[FanoutRun]]:
    """Burst runs (all events at once) and paced runs (``--paced-rate`` events/s)."""
    assert mesh.settings is not None
    assert mesh.gateway is not None
    settings = mesh.settings
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    topics = TopicNames(prefix=settings.topic_prefix)
    producer = AIOKafkaProducer(
        **client_kwargs(settings),
        client_id="bench-fanout-publisher",
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
    )
    await producer.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    subscribers: list[Subscriber] = []
    readers: list[asyncio.Task[None]] = []
    try:
        gateway_pid = mesh.gateway.process.pid
        rss_before = rss_kib(gateway_pid)
        began = time.perf_counter()
        subscribers = await connect_subscribers(
            session, mesh.gateway_url, "bench-fanout", args.subscribers
        )
        connect_s = time.perf_counter() - began
        await asyncio.sleep(1.0)
        setup = FanoutSetup(
            subscribers=len(subscribers),
            connect_s=connect_s,
            gateway_rss_before_kib=rss_before,
            gateway_rss_after_kib=rss_kib(gateway_pid),
            fd_note=fd_note,
        )
        print(f"fan-out: {len(subscribers)} subscribers connected in {connect_s:.1f} s", flush=True)
        readers = [asyncio.create_task(sub.read()) for sub in subscribers]
        fanout = Fanout(
            mesh=mesh,
            session=session,
            factory=EventFactory(
                registry=registry, codec=codec, topics=topics, source="bench/mainflow"
            ),
            codec=codec,
            producer=producer,
            campaign="bench-fanout",
            subscribers=subscribers,
        )
        await fanout.run("warmup", 50, None)
        burst, paced = [], []
        for run in range(1, args.runs + 1):
            burst.append(await fanout.run(f"b{run}", args.events, None))
            print(f"fan-out burst {run}: {burst[-1].summary()}", flush=True)
            await asyncio.sleep(1.0)
        if args.paced_rate > 0:
            events = max(1, round(args.paced_rate * args.paced_seconds))
            for run in range(1, args.runs + 1):
                paced.append(await fanout.run(f"p{run}", events, args.paced_rate))
                print(f"fan-out paced {run}: {paced[-1].summary()}", flush=True)
                await asyncio.sleep(1.0)
        return setup, burst, paced
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        gate = asyncio.Semaphore(100)

        async def close(sub: Subscriber) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sub.ws.close(), 5)

        await asyncio.gather(*(close(sub) for sub in subscribers))
        await session.close()
        await producer.stop()


# -- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model, mem_kib = "unknown", 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "libs": ", ".join(
            f"{name} {version(name)}" for name in ("aiohttp", "aiokafka", "orjson", "fastavro")
        ),
    }


def fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


CLIENT = "bench client"


def round_sig(value: float, digits: int = 2) -> float:
    if not value or math.isnan(value) or math.isinf(value):
        return math.nan
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


PROCESSES = ("gateway", "search service", "kafka broker", CLIENT, OTHER)


def cpu_header(extra: Sequence[str] = ()) -> list[str]:
    names = [*PROCESSES, *extra]
    return ["| run | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]


def cpu_cells(cpu: CpuWindow | None) -> str:
    return " | ".join(fmt(cpu.cores(name) if cpu else None) for name in PROCESSES)


def search_lanes(args: argparse.Namespace, partitions: int) -> str:
    """Which ``<prefix>.search`` partition each bench campaign hashes to, and its load share.

    The search service handles one partition's records one at a time, so the busiest
    partition bounds the round trip's throughput.
    """
    load: dict[int, int] = {}
    for index in range(args.connections):
        partition = campaign_partition(f"bench-search-{index % args.campaigns}", partitions)
        load[partition] = load.get(partition, 0) + 1
    mapping = ", ".join(
        f"`bench-search-{c}` -> {campaign_partition(f'bench-search-{c}', partitions)}"
        for c in range(args.campaigns)
    )
    busiest = max(load.values()) / args.connections
    return (
        f"Campaigns hash to `<prefix>.search` partitions (of {partitions}) as {mapping}: "
        f"{len(load)} partitions carry the load, the busiest {busiest:.0%} of it."
    )


def search_section(
    runs: list[SearchRun], knee: list[SearchRun], args: argparse.Namespace, partitions: int
) -> list[str]:
    def lat(values: list[float]) -> str:
        return fmt(percentile(sorted(values), 50), ".1f")

    lines = [
        "### Search round trip",
        "",
        f"Open loop: {args.rate:g} requests/s on a fixed schedule (sent whether or not earlier "
        f"ones were answered), round-robin over {args.connections} `MeshClient` sessions in "
        f"{args.campaigns} campaigns on one shared aiohttp session; {len(QUERIES)} realistic "
        'queries drawn at random. Each request is `client.request("search", {"query": q})`; '
        "latency is from the call (frame sent) to the correlated reply (the call also waits "
        f"for the `nexus.ack`). One {args.warmup:g} s warm-up, then "
        f"{plural(len(runs), 'measured run')} of {args.seconds:g} s; client timeout "
        f"{args.request_timeout:g} s. {search_lanes(args, partitions)}",
        "",
        "| median of runs | replies/s | p50 ms | p90 ms | p99 ms | max ms | errors + timeouts |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| search round trip | "
        + " | ".join(
            [
                fmt(median([r.achieved_rate for r in runs]), ".1f"),
                *(fmt(median([r.pct(q) for r in runs]), ".1f") for q in (50, 90, 99, 100)),
                fmt(median([r.error_count + r.gateway_timeouts for r in runs]), ".0f"),
            ]
        )
        + " |",
        "",
        "Per run. *to service* = send -> the service built the reply (its `metadata.time`, "
        "whole ms); *back* = from there to the client; *ack* = the gateway's mean Kafka write "
        "of the request (its `/metrics`); *send lag* = how late the generator sent "
        "(open-loop check).",
        "",
        "| run | sent | completed | failed | timeouts | errors | replies/s | p50 ms | p90 ms "
        "| p99 ms | max ms | to service p50 | back p50 | ack mean ms | send lag p99 ms "
        "| hits/reply |",
        "|---|" + "---:|" * 15,
    ]
    for r in [*runs, *knee]:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
        label = r.label if r in runs else f"at {r.label}, {r.sent / r.offered_rate:g} s"
        lines.append(
            f"| {label} | {r.sent} | {r.completed} | {r.failed} | {r.gateway_timeouts} | "
            f"{errors} | {r.achieved_rate:.1f} | {fmt(r.pct(50), '.1f')} | "
            f"{fmt(r.pct(90), '.1f')} | {fmt(r.pct(99), '.1f')} | {fmt(r.pct(100), '.1f')} | "
            f"{lat(r.to_service_ms)} | {lat(r.back_ms)} | {fmt(r.produce_ms, '.1f')} | "
            f"{fmt(percentile(sorted(r.lags_ms), 99), '.1f')} | "
            f"{fmt(r.hits / r.completed if r.completed else math.nan, '.1f')} |"
        )
    if knee:
        lines.append(
            f"\nThe rows *at N/s* are single shorter runs at other rates (after the "
            f"{args.rate:g}/s runs) to show where the round trip stops keeping up."
        )
    lines += ["", "CPU during each run, in cores (CPU seconds / wall seconds, /proc):", ""]
    lines += cpu_header()
    for r in [*runs, *knee]:
        label = r.label if r in runs else f"at {r.label}"
        lines.append(f"| {label} | {cpu_cells(r.cpu)} |")
    return lines


def fanout_section(
    setup: FanoutSetup, burst: list[FanoutRun], paced: list[FanoutRun], args: argparse.Namespace
) -> list[str]:
    frame = max((r.frame_bytes for r in [*burst, *paced]), default=0)
    n = setup.subscribers
    lines = [
        "### Fan-out: one campaign, one gateway",
        "",
        f"{n} subscribers hold raw aiohttp WebSockets (one session, "
        "`TCPConnector(limit=0)`, one event loop) in campaign `bench-fanout` on the one "
        "gateway; per frame a reader does one orjson parse, checks `metadata.event_id` "
        "(exactly once, in order) and keeps the arrival time. The bench produces "
        f"`campaign.updated` records ({frame} bytes as a client frame) to `<prefix>.clients` "
        "with an idempotent acks=all aiokafka producer (linger 1 ms), encoded before the "
        "clock starts. deliveries/s = deliveries received / (first publish -> the last "
        f"subscriber's last event). {n} connections opened in {setup.connect_s:.1f} s "
        f"(50 at a time); gateway RSS grew {fmt(setup.kib_per_connection, '.1f')} KiB per "
        f"idle connection ({fmt((setup.gateway_rss_before_kib or math.nan) / 1024, '.0f')} -> "
        f"{fmt((setup.gateway_rss_after_kib or math.nan) / 1024, '.0f')} MiB); "
        f"{setup.fd_note}.",
        "",
        f"**Burst**: {args.events} events enqueued at once, {plural(len(burst), 'run')} "
        "(after a 50-event warm-up).",
        "",
        "| median of runs | deliveries/s | last delivery s | lost | dup | out of order "
        "| gateway CPU µs/delivery | client CPU µs/delivery |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.events} events x {n} subscribers | "
        f"{fmt(median([r.rate for r in burst]), ',.0f')} | "
        f"{fmt(median([r.last_s for r in burst]))} | {sum(r.lost for r in burst)} | "
        f"{sum(r.dups for r in burst)} | {sum(r.disorder for r in burst)} | "
        f"{fmt(median([r.cpu_us_per_delivery('gateway') for r in burst]), '.1f')} | "
        f"{fmt(median([r.cpu_us_per_delivery(CLIENT) for r in burst]), '.1f')} |",
        "",
        "| run | deliveries | received | lost | dup | out of order | closed | all acked ms "
        "| first delivery ms | last delivery s | deliveries/s |",
        "|---|" + "---:|" * 10,
    ]
    for r in burst:
        lines.append(
            f"| {r.label} | {r.deliveries:,} | {r.received:,} | {r.lost} | {r.dups} | "
            f"{r.disorder} | {r.closed} | {r.acked_s * 1000:.0f} | {fmt(r.first_s * 1000, '.0f')}"
            f" | {fmt(r.last_s)} | {r.rate:,.0f} |"
        )
    if paced:
        offered = (paced[0].offered_events_per_s or 0) * n
        lines += [
            "",
            f"**Paced**: {paced[0].offered_events_per_s:g} events/s for "
            f"{args.paced_seconds:g} s ({offered:,.0f} deliveries/s offered), "
            f"{plural(len(paced), 'run')}. Latency is per delivery, from the bench enqueueing "
            "the record to the subscriber reading the frame.",
            "",
            "| run | deliveries | lost | dup | out of order | deliveries/s | latency p50 ms "
            "| p90 ms | p99 ms | max ms |",
            "|---|" + "---:|" * 9,
        ]
        for r in paced:
            lines.append(
                f"| {r.label} | {r.deliveries:,} | {r.lost} | {r.dups} | {r.disorder} | "
                f"{r.rate:,.0f} | {fmt(r.lat(50), '.1f')} | {fmt(r.lat(90), '.1f')} | "
                f"{fmt(r.lat(99), '.1f')} | {fmt(r.lat(100), '.1f')} |"
            )
    lines += [
        "",
        "CPU from the first publish to the last delivery, in cores, and per delivery:",
        "",
        *cpu_header(["gateway µs/delivery", "client µs/delivery"]),
    ]
    for r in [*burst, *paced]:
        lines.append(
            f"| {r.label} | {cpu_cells(r.cpu)} | {fmt(r.cpu_us_per_delivery('gateway'), '.1f')}"
            f" | {fmt(r.cpu_us_per_delivery(CLIENT), '.1f')} |"
        )
    return lines


def notes(
    search: list[SearchRun], knee: list[SearchRun], burst: list[FanoutRun], paced: list[FanoutRun]
) -> list[str]:
    """Observations computed from this run's numbers (nothing here is hard-coded)."""
    cores = os.cpu_count() or 0
    lines = [
        "### Reading the numbers",
        "",
        f"- Everything shares {cores} cores: the broker (JVM), the gateway, the search "
        "service and the bench client, a single Python event loop. The client is not free: "
        f"its CPU is in the tables and it takes cores the gateway could use. *{OTHER}* is "
        "busy CPU no process of the bench accounts for (other work on the machine, kernel "
        "softirq); when it is large the run was disturbed.",
    ]
    all_windows = [r.cpu for r in [*search, *knee] if r.cpu is not None]
    all_windows += [r.cpu for r in [*burst, *paced]]
    disturbed = max((w.cores(OTHER) or 0.0 for w in all_windows), default=0.0)
    if disturbed > 0.3:
        lines.append(
            f"- Up to {disturbed:.2f} cores went to {OTHER} in some window: compare runs with "
            "a small value there."
        )
    if search:
        rate = search[0].offered_rate
        achieved = median([r.achieved_rate for r in search])
        to_service = median([percentile(sorted(r.to_service_ms), 50) for r in search])
        back = median([percentile(sorted(r.back_ms), 50) for r in search])
        ack = median([r.produce_ms for r in search])
        service = median([(r.cpu.cores("search service") or math.nan) for r in search if r.cpu])
        gateway = median([(r.cpu.cores("gateway") or math.nan) for r in search if r.cpu])
        lines.append(
            f"- Search at {rate:g}/s: {achieved:.1f} replies/s. Of the p50 round trip, "
            f"{fmt(to_service, '.1f')} ms pass before the service builds the reply (the "
            f"gateway's acks=all write took {fmt(ack, '.1f')} ms on average) and "
            f"{fmt(back, '.1f')} ms from there to the client. The gateway used "
            f"{fmt(gateway)} cores, the search service {fmt(service)}."
        )
        if knee:
            points = [(rate, to_service, ack, achieved)]
            points += [
                (
                    r.offered_rate,
                    percentile(sorted(r.to_service_ms), 50),
                    r.produce_ms,
                    r.achieved_rate,
                )
                for r in knee
            ]
            lines.append(
                "- The part before the service's reply grows with the rate while the "
                "gateway's write does not: "
                + ", ".join(
                    f"{r:g}/s: {t:.1f} ms (write {fmt(w, '.1f')} ms, {a:.0f} replies/s)"
                    for r, t, w, a in sorted(points)
                )
                + f" ({rate:g}/s: medians of the runs)."
            )
        waits = [
            r
            for r in [*search, *knee]
            if percentile(sorted(r.to_service_ms), 50) > 4 * max(r.produce_ms, 1.0)
        ]
        if waits:
            worst = max(waits, key=lambda r: percentile(sorted(r.to_service_ms), 50))
            svc = worst.cpu.cores("search service") if worst.cpu else None
            lines.append(
                f"- Where requests wait: in the search service, which used only {fmt(svc)} "
                f"cores at {worst.offered_rate:g}/s (to service p50 "
                f"{percentile(sorted(worst.to_service_ms), 50):.0f} ms): it waits rather than "
                "computes. The service SDK handles a partition's records one after another "
                "and awaits each reply's acks=all write before the next "
                "(`nexus_mesh/service/runner.py`, `Runner._partition`), then waits for the "
                "whole batch and a commit before fetching again (`Runner._consume`). A "
                "partition therefore serves at most about 1 / (write + handling time) "
                "requests/s, and the busiest partition (see the hashing above) sets the "
                "limit; the write time grows when the machine is busy, which is when this "
                "round trip degrades first."
            )
    if burst:
        gw = median([(r.cpu.cores("gateway") or math.nan) for r in burst])
        client = median([(r.cpu.cores(CLIENT) or math.nan) for r in burst])
        us_gw = median([r.cpu_us_per_delivery("gateway") for r in burst])
        us_client = median([r.cpu_us_per_delivery(CLIENT) for r in burst])
        busier = "the bench client" if client > gw else "the gateway"
        if us_client > us_gw:
            cost = (
                "the receiving side costs more than the sending side, so on one machine the "
                "measured rate is bounded by the load generator"
            )
        else:
            cost = "the gateway's side costs more than the client's"
        lines.append(
            f"- Fan-out burst: over the whole window the gateway averaged {fmt(gw)} cores and "
            f"the bench client {fmt(client)}; {busier} was busier. Per delivery the gateway "
            f"spent {fmt(us_gw, '.1f')} µs of CPU and the client {fmt(us_client, '.1f')} µs: "
            f"{cost}. With a core to itself the gateway would write about "
            f"{fmt(round_sig(1e6 / us_gw), ',.0f')} deliveries/s at this cost "
            "per delivery (a burst lets it write many queued frames per wake-up; the paced runs "
            "show the cost when events trickle in)."
        )
    if paced:
        us_gw = median([r.cpu_us_per_delivery("gateway") for r in paced])
        p99 = median([r.lat(99) for r in paced])
        offered = (paced[0].offered_events_per_s or 0) * paced[0].subscribers
        gw = median([(r.cpu.cores("gateway") or math.nan) for r in paced])
        client = median([(r.cpu.cores(CLIENT) or math.nan) for r in paced])
        achieved = median([r.rate for r in paced])
        per_event_ms = us_gw * paced[0].subscribers / 1000
        lines.append(
            f"- Fan-out paced at {offered:,.0f} deliveries/s offered ({achieved:,.0f} "
            f"achieved): the gateway used {fmt(gw)} cores, {fmt(us_gw, '.1f')} µs per "
            f"delivery, more than in a burst because each event now wakes every "
            f"connection's writer for one frame and one socket write; the client used "
            f"{fmt(client)} cores. Median p99 latency {fmt(p99, '.0f')} ms (p50 "
            f"{fmt(median([r.lat(50) for r in paced]), '.0f')} ms); one event's fan-out costs "
            f"the gateway about {fmt(per_event_ms, '.1f')} ms of CPU. "
            + (
                f"At {fmt(gw)} of a core busy the events queue behind each other: the latency "
                "is waiting for CPU, not for Kafka or the network."
                if gw > 0.7
                else "The gateway had CPU to spare at this rate."
            )
        )
    return lines


def render(
    mesh: Mesh,
    args: argparse.Namespace,
    search: tuple[list[SearchRun], list[SearchRun]],
    fanout: tuple[FanoutSetup, list[FanoutRun], list[FanoutRun]] | None,
    command: str,
    idle_load: float,
) -> str:
    info = machine()
    lines = [
        BEGIN_MARK,
        SECTION_TITLE,
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: nproc {info['nproc']}, {info['cpu']}, RAM {info['ram']}, Linux "
        f"{info['kernel']}, Python {info['python']} ({info['libs']})  ",
        f"Kafka: {mesh.kafka_version}  ",
        f"Code: git {code_revision()}; machine busy {idle_load:.2f} cores before the bench "
        "started (other work)  ",
        "Processes: one `nexus gateway`, one `nexus service search`, the broker and the bench "
        "client, all on 127.0.0.1. Settings: `NEXUS_AUTH=none`, gateway "
        f"`NEXUS_LOG_LEVEL=WARNING`, `NEXUS_GATEWAY_RATE_PER_S={args.gateway_rate:g}` and "
        f"`NEXUS_GATEWAY_RATE_BURST={args.gateway_rate:g}` (so the per-connection limit never "
        "refuses bench load); everything else default: `<prefix>.clients` 12 partitions, "
        "domain topics 6, replication 1, 4 MiB outbox per connection. "
        + (
            "Tracing: the environment's `OTEL_*`."
            if args.otel
            else "Tracing off (`OTEL_SDK_DISABLED=true`; its cost is the tracing-overhead "
            "section's subject)."
        ),
        "",
    ]
    runs, knee = search
    if runs:
        assert mesh.settings is not None
        partitions = mesh.settings.domain_partitions
        lines += [*search_section(runs, knee, args, partitions), ""]
    burst: list[FanoutRun] = []
    paced: list[FanoutRun] = []
    if fanout is not None:
        setup, burst, paced = fanout
        lines += [*fanout_section(setup, burst, paced, args), ""]
    lines += [*notes(runs, knee, burst, paced), "", END_MARK]
    return "\n".join(lines) + "\n"


def write_section(doc: Path, section: str) -> None:
    """Replace this bench's section of ``doc`` (between its markers) or append it."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    begin, end = text.find(BEGIN_MARK), text.find(END_MARK)
    if begin != -1 and end > begin:
        rest = text[end + len(END_MARK) :].lstrip("\n")
        text = text[:begin] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


# -- main -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, command: str) -> str:
    fd_note = raise_fd_limit(2 * args.subscribers + 1_000)
    idle_load = await asyncio.to_thread(background_load)
    if idle_load > 0.2:
        print(
            f"warning: the machine is already busy ({idle_load:.2f} cores) before the bench; "
            "the numbers will be disturbed",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="nexus-mainflow-") as tmp:
        mesh = Mesh(
            workdir=Path(tmp),
            gateway_env={
                "NEXUS_GATEWAY_RATE_PER_S": f"{args.gateway_rate:g}",
                "NEXUS_GATEWAY_RATE_BURST": f"{args.gateway_rate:g}",
            },
            tracing=args.otel,
        )
        try:
            began = time.perf_counter()
            await mesh.start()
            print(
                f"mesh up in {time.perf_counter() - began:.1f} s: {mesh.kafka_version}, "
                f"gateway {mesh.gateway_url}, topics {mesh.prefix}.*",
                flush=True,
            )
            search: tuple[list[SearchRun], list[SearchRun]] = ([], [])
            if not args.skip_search:
                search = await search_phase(mesh, args)
            fanout = None if args.skip_fanout else await fanout_phase(mesh, args, fd_note)
            for child in mesh.children:
                if child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} died during the bench:\n{child.log()}")
            return render(mesh, args, search, fanout, command, idle_load)
        finally:
            await asyncio.to_thread(mesh.stop)


def rates(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    add = parser.add_argument
    add("--runs", type=int, default=3, help="measured runs of each part (median reported)")
    add("--rate", type=float, default=200.0, help="search requests per second")
    add("--seconds", type=float, default=15.0, help="length of one search run")
    add("--warmup", type=float, default=10.0, help="search warm-up seconds")
    add("--connections", type=int, default=20, help="search client sessions")
    add("--campaigns", type=int, default=5, help="campaigns of those sessions")
    add("--request-timeout", type=float, default=12.0, help="client timeout of a request")
    add(
        "--knee-rates",
        type=rates,
        default=[100.0, 300.0],
        help="extra single search runs at these rates, comma-separated ('' for none)",
    )
    add("--knee-seconds", type=float, default=8.0, help="length of each of those runs")
    add("--subscribers", type=int, default=1000, help="fan-out subscribers")
    add("--events", type=int, default=1000, help="events per burst fan-out run")
    add("--paced-rate", type=float, default=100.0, help="events/s of paced runs (0: none)")
    add("--paced-seconds", type=float, default=5.0, help="length of a paced run")
    add(
        "--gateway-rate",
        type=float,
        default=100_000.0,
        help="NEXUS_GATEWAY_RATE_PER_S and _BURST for the gateway",
    )
    add(
        "--otel",
        action="store_true",
        help="keep the environment's OTEL_* for the mesh (default: OTEL_SDK_DISABLED=true)",
    )
    add("--skip-search", action="store_true")
    add("--skip-fanout", action="store_true")
    add("--doc", type=Path, default=DOC, help="Markdown file to update")
    add("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if min(args.runs, args.rate, args.seconds, args.events, args.subscribers) <= 0:
        parser.error("--runs, --rate, --seconds, --events and --subscribers must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The bench's own Kafka clients log every refused connection while the broker starts.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join([".venv/bin/python -m bench.mainflow_bench", *given])
    section = asyncio.run(run(args, command))
    print()
    print(section)
    if not args.no_doc:
        write_section(args.doc, section)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
