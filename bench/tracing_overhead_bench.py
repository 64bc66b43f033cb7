"""Tracing overhead: client-event throughput with 100% sampling vs tracing off, side by side.

Starts its own single-node Kafka (or uses ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``) and, for every
measured run, a fresh gateway and search service as the real ``python -m nexus_mesh.cli``
processes, either with ``OTEL_TRACES_SAMPLER=always_on`` exporting OTLP/HTTP to a receiver
in this process (which decodes every ``ExportTraceServiceRequest``, as a collector would, to
count the spans), or with ``OTEL_SDK_DISABLED=true``. Runs alternate traced/untraced, with the
first mode swapped each round, so both see the same machine. Two closed-loop workloads over
``--clients`` sessions, one campaign each:

* ``search``: ``client.request("search")`` round trips (ws receive -> Kafka -> search service
  -> Kafka -> ws send: six spans per round trip, in two processes);
* ``emit``: ``client.emit("chat.message")`` until acked (ws receive + produce, then the
  delivery back to the campaign: four spans, all in the gateway).

Writes the "Tracing overhead (issue 6)" section of docs/benchmarks.md (``--no-doc`` to skip).

    .venv/bin/python -m bench.tracing_overhead_bench [--rounds 4] [--seconds 8]

Bounded: every wait has a deadline, and every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aiohttp
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from nexus_mesh.client import MeshClient
from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import load_settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN_MARK = "<!-- tracing-overhead:begin -->"
END_MARK = "<!-- tracing-overhead:end -->"
QUERIES = ("password reset", "invoice", "refund policy", "two-step verification", "ticket")
MODES = ("traced", "untraced", "sampled", "unexported")


@dataclass
class Receiver:
    """An OTLP/HTTP endpoint counting what the mesh exports."""

    url: str = ""
    spans: int = 0
    requests: int = 0

    async def export(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.requests += 1
        self.spans += sum(
            len(scope.spans) for rs in message.resource_spans for scope in rs.scope_spans
        )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    workload: str
    mode: str
    round: int
    done: int
    seconds: float
    spans: int = 0
    cpu: tuple[float, float] = (0.0, 0.0)
    """CPU seconds of the gateway and of the search service over the measured window."""

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def cpu_us(self, which: int) -> float:
        """CPU microseconds per interaction of the gateway (0) or the service (1)."""
        return self.cpu[which] / max(1, self.done) * 1e6


@dataclass
class Bench:
    workdir: Path
    receiver: Receiver
    bootstrap: str = ""
    prefix: str = ""
    kafka: LocalKafka | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def start_broker(self) -> None:
        external = os.environ.get("NEXUS_KAFKA_BOOTSTRAP_SERVERS")
        if external:
            self.bootstrap = external
        else:
            self.kafka = LocalKafka(self.workdir / "kafka")
            self.bootstrap = await asyncio.to_thread(self.kafka.start, nodes=1, port=0)
        self.prefix = f"otel{uuid.uuid4().hex[:8]}"
        settings = load_settings(kafka_bootstrap_servers=self.bootstrap, topic_prefix=self.prefix)
        await ensure_topics(settings, load_registry(settings.schemas_dir).domains)

    def env(self, mode: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "OTEL_"))}
        env.update(
            NEXUS_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            NEXUS_TOPIC_PREFIX=self.prefix,
            NEXUS_AUTH="none",
            NEXUS_LOG_LEVEL="WARNING",
            NEXUS_GATEWAY_RATE_PER_S="100000",
            NEXUS_GATEWAY_RATE_BURST="100000",
            NEXUS_SERVICE_METRICS_PORT="0",
            NEXUS_GATEWAY_ADMIN_PORT="0",
        )
        if mode == "untraced":
            env["OTEL_SDK_DISABLED"] = "true"
            return env
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=self.receiver.url,
            OTEL_TRACES_SAMPLER="always_on",
        )
        if mode == "unexported":
            env["OTEL_TRACES_EXPORTER"] = "none"
        if mode == "sampled":
            env.update(
                OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"
            )
        return env

    def spawn(self, mode: str) -> tuple[int, Path]:
        """Start a gateway and a search service; their port and shared log."""
        port = free_port()
        env = self.env(mode)
        command = [sys.executable, "-m", "nexus_mesh.cli"]
        log = self.workdir / f"{mode}-{len(self.children)}.log"
        with log.open("wb") as out:
            gateway_env = {
                **env,
                "NEXUS_GATEWAY_HOST": "127.0.0.1",
                "NEXUS_GATEWAY_PORT": str(port),
            }
            self.children.append(
                subprocess.Popen([*command, "gateway"], env=gateway_env, stdout=out, stderr=out)
            )
            # INFO only for the service's start-up lines; it logs nothing per event.
            service_env = {**env, "NEXUS_LOG_LEVEL": "INFO"}
            self.children.append(
                subprocess.Popen(
                    [*command, "service", "search"], env=service_env, stdout=out, stderr=out
                )
            )
        return port, log

    async def start_mesh(self, mode: str) -> str:
        port, log = self.spawn(mode)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in self.children):
                raise RuntimeError(f"a mesh process exited at start:\n{log.read_text()[-3000:]}")
            text = log.read_text(errors="replace")
            if "service search ready" in text and await asyncio.to_thread(_ready, url):
                return url
            await asyncio.sleep(0.1)
        raise RuntimeError(f"mesh not ready within 60 s:\n{log.read_text()[-3000:]}")

    def stop_mesh(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()

    def stop(self) -> None:
        self.stop_mesh()
        if self.kafka is not None:
            self.kafka.stop()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def load(
    url: str, workload: str, clients: int, warmup: float, seconds: float, pids: list[int]
) -> tuple[int, tuple[float, float]]:
    """Closed-loop traffic: interactions completed in the measured window, and the CPU
    seconds the gateway and the service used meanwhile."""
    counting = False
    done = 0
    stop = asyncio.Event()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal done
        campaign = f"c{index}"
        async with MeshClient.connect(
            url, campaign_id=campaign, user_id=f"u{index}", session=session
        ) as client:
            turn = 0
            while not stop.is_set():
                turn += 1
                if workload == "search":
                    reply = await client.request("search", {"query": QUERIES[turn % len(QUERIES)]})
                    assert reply.type == "search.completed", reply
                else:
                    await client.emit("chat.message", {"text": f"message {turn}"})
                if counting:
                    done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(one(session, i)) for i in range(clients)]
        try:
            await asyncio.sleep(warmup)
            before = [cpu_seconds(pid) for pid in pids]
            counting = True
            await asyncio.sleep(seconds)
            counting = False
            after = [cpu_seconds(pid) for pid in pids]
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
    return done, (after[0] - before[0], after[1] - before[1])


async def measure(args: argparse.Namespace, bench: Bench) -> list[Run]:
    runs: list[Run] = []
    for round_ in range(args.rounds):
        for workload in args.workloads:
            modes = [m for m in MODES if m in args.modes]
            order = modes if round_ % 2 == 0 else tuple(reversed(modes))
            for mode in order:
                url = await bench.start_mesh(mode)
                spans_before = bench.receiver.spans
                pids = [child.pid for child in bench.children]
                try:
                    done, cpu = await load(
                        url, workload, args.clients, args.warmup, args.seconds, pids
                    )
                finally:
                    # Stopping flushes the exporters: the spans of the window are all in.
                    await asyncio.to_thread(bench.stop_mesh)
                run = Run(workload, mode, round_, done, args.seconds, cpu=cpu)
                run.spans = bench.receiver.spans - spans_before
                runs.append(run)
                print(
                    f"round {round_} {workload:6} {mode:8} {run.rate:8.1f}/s"
                    f"  gateway {run.cpu_us(0):5.0f} us, service {run.cpu_us(1):5.0f} us CPU"
                    + (f"  ({run.spans} spans)" if mode != "untraced" else ""),
                    flush=True,
                )
    return runs


def span_costs(count: int = 5_000) -> tuple[float, float]:
    """Microseconds per span on this machine: create+end one producer span with the mesh's
    attributes, and OTLP-encode it (what the batch processor's thread does)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from nexus_mesh.tracing.spans import send_span, written

    kept: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    tracer = provider.get_tracer("bench")
    began = time.perf_counter()
    for offset in range(count):
        with send_span(
            tracer,
            topic="nexus.search",
            key="campaign-1",
            event_type="search.requested",
            event_id=uuid.uuid4().hex,
            campaign_id="campaign-1",
        ) as span:
            written(span, partition=1, offset=offset)
    created = (time.perf_counter() - began) / count * 1e6
    began = time.perf_counter()
    for start in range(0, count, 512):
        encode_spans(kept[start : start + 512]).SerializePartialToString()
    encoded = (time.perf_counter() - began) / count * 1e6
    return created, encoded


def section(
    runs: list[Run],
    args: argparse.Namespace,
    command: str,
    costs: tuple[float, float],
    load0: float,
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load1 = os.getloadavg()[0]
    lines = [
        BEGIN_MARK,
        "## Tracing overhead (issue 6)",
        "",
        "Client interactions per second through one gateway and one search service, with every",
        "trace sampled and exported (`OTEL_TRACES_SAMPLER=always_on`, OTLP/HTTP to a receiver",
        "that decodes each `ExportTraceServiceRequest`) against tracing switched off",
        "(`OTEL_SDK_DISABLED=true`). Each run starts fresh gateway and search processes;",
        "traced and untraced runs alternate, the first mode swapped each round. Closed loop:",
        f"{args.clients} sessions, one campaign each, each waiting for its answer before the",
        f"next; {args.warmup:g} s warm-up, then {args.seconds:g} s measured per run. `search` is",
        "a `search` request answered by the search service (six spans per round trip, in two",
        "processes); `emit` is a `chat.message` until its ack (four spans, all in the gateway:",
        "ws receive, send, and the delivery back to the campaign).",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, opentelemetry-sdk {version('opentelemetry-sdk')}, "
        f"broker, gateway, service and load generator all on this machine. Date: {now} "
        f"(load average {load0:.1f} at the start, {load1:.1f} at the end).",
        "",
        f"One span, measured in the bench's process before the runs: {costs[0]:.0f} us to "
        f"create and end a producer span with the mesh's attributes, {costs[1]:.0f} us to "
        "encode it as OTLP protobuf (done on the batch processor's thread, under the GIL).",
        "",
        "| workload | untraced median /s | traced (100%) median /s | traced / untraced | spans "
        "per interaction | sampled 10% median /s | sampled / untraced |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    runs_lines = []
    for workload in args.workloads:
        by_mode = {m: [r for r in runs if r.workload == workload and r.mode == m] for m in MODES}
        medians = {m: statistics.median(r.rate for r in rs) for m, rs in by_mode.items() if rs}
        if "traced" not in medians or "untraced" not in medians:
            continue
        on = by_mode["traced"]
        per = sum(r.spans for r in on) / max(1, sum(r.done for r in on))
        off = medians["untraced"]
        sampled = medians.get("sampled")
        lines.append(
            f"| {workload} | {off:,.0f} | {medians['traced']:,.0f} | "
            f"**{medians['traced'] / off:.2f}** | {per:.1f} | "
            + (f"{sampled:,.0f} | **{sampled / off:.2f}** |" if sampled else "- | - |")
        )
        for mode, rs in by_mode.items():
            if rs:
                rates = ", ".join(f"{r.rate:,.0f}" for r in rs)
                runs_lines.append(f"- {workload}, {mode}: {rates} /s")
    lines += [
        "",
        "CPU per interaction (median over the runs, from /proc): the cost that does not",
        "depend on what else shares the machine. Capacity vs untraced is the untraced CPU of",
        "the busiest process over this mode's: the throughput ratio to expect once that",
        "process saturates its core.",
        "",
        "| workload | mode | gateway CPU us | search service CPU us | capacity vs untraced |",
        "|---|---|---:|---:|---:|",
    ]
    for workload in args.workloads:
        base = None
        for mode in ("untraced", *[m for m in MODES if m != "untraced"]):
            rs = [r for r in runs if r.workload == workload and r.mode == mode]
            if not rs:
                continue
            gateway = statistics.median(r.cpu_us(0) for r in rs)
            service = statistics.median(r.cpu_us(1) for r in rs)
            # The busiest process bounds the rate once the machine is saturated.
            busiest = max(gateway, service)
            base = base or busiest
            lines.append(
                f"| {workload} | {mode} | {gateway:,.0f} | {service:,.0f} | "
                f"**{base / busiest:.2f}** |"
            )
    lines += ["", *cost_notes(runs, args.workloads)]
    lines += ["", "Every run, in the order of rounds:", "", *runs_lines]
    lines += [
        "",
        "Target: traced >= 0.8 of untraced. Spans per interaction counts what the receiver got",
        "during the traced runs (the warm-up's spans included, so it reads a little high); it",
        "shows nothing was dropped. With tracing off, spans are not even created: the",
        "components check `Telemetry.enabled` first, and context still passes through, so a",
        "client's `traceparent` reaches the services untouched.",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def cost_notes(runs: list[Run], workloads: Sequence[str]) -> list[str]:
    """Where tracing's CPU goes, from the medians: creating spans vs exporting them."""
    notes = []
    for workload in workloads:
        cpu: dict[str, float] = {}
        for mode in MODES:
            rs = [r for r in runs if r.workload == workload and r.mode == mode]
            if rs:
                cpu[mode] = statistics.median(r.cpu_us(0) + r.cpu_us(1) for r in rs)
        if not {"traced", "untraced"} <= cpu.keys():
            continue
        text = (
            f"- {workload}: 100% tracing adds {cpu['traced'] - cpu['untraced']:,.0f} us of CPU "
            f"per interaction (gateway + service, {cpu['untraced']:,.0f} us untraced)"
        )
        if "unexported" in cpu:
            text += (
                f": {cpu['unexported'] - cpu['untraced']:,.0f} us creating and ending the "
                f"spans, {cpu['traced'] - cpu['unexported']:,.0f} us exporting them"
            )
        notes.append(text + ".")
    return notes


def write_section(doc: Path, text: str) -> None:
    """Replace this bench's section of ``doc`` (between its markers) or append it."""
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    begin, end = current.find(BEGIN_MARK), current.find(END_MARK)
    if begin != -1 and end > begin:
        current = current[:begin] + text + current[end + len(END_MARK) :].lstrip("\n")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    doc.write_text(current)


async def run(args: argparse.Namespace, command: str) -> str:
    load0 = os.getloadavg()[0]
    costs = span_costs()
    receiver = Receiver()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", receiver.export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="nexus-otel-bench-") as tmp:
        bench = Bench(workdir=Path(tmp), receiver=receiver)
        try:
            await bench.start_broker()
            runs = await measure(args, bench)
        finally:
            await asyncio.to_thread(bench.stop)
            await runner.cleanup()
    return section(runs, args, command, costs, load0)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--workloads", nargs="+", choices=("search", "emit"), default=["search", "emit"]
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=["traced", "untraced", "sampled"],
        help="traced: 100%% sampled and exported; untraced: OTEL_SDK_DISABLED; sampled: 10%% "
        "parent-based; unexported: 100%% sampled, no exporter (the spans' own cost)",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = ".venv/bin/python -m bench.tracing_overhead_bench " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    text = asyncio.run(run(args, command.strip()))
    print(text)
    if not args.no_doc:
        write_section(DOC, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
