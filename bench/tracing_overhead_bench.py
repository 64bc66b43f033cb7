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
MODES = ("traced", "untraced")


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


@dataclass
class Run:
    workload: str
    mode: str
    round: int
    done: int
    seconds: float
    spans: int

    @property
    def rate(self) -> float:
        return self.done / self.seconds


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
        if mode == "traced":
            env.update(
                OTEL_TRACES_EXPORTER="otlp",
                OTEL_EXPORTER_OTLP_ENDPOINT=self.receiver.url,
                OTEL_TRACES_SAMPLER="always_on",
            )
        else:
            env["OTEL_SDK_DISABLED"] = "true"
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


async def load(url: str, workload: str, clients: int, warmup: float, seconds: float) -> int:
    """Closed-loop traffic; the number of interactions completed in the measured window."""
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
            counting = True
            await asyncio.sleep(seconds)
            counting = False
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
    return done


async def measure(args: argparse.Namespace, bench: Bench) -> list[Run]:
    runs: list[Run] = []
    for round_ in range(args.rounds):
        for workload in args.workloads:
            order = MODES if round_ % 2 == 0 else tuple(reversed(MODES))
            for mode in order:
                url = await bench.start_mesh(mode)
                spans_before = bench.receiver.spans
                try:
                    done = await load(url, workload, args.clients, args.warmup, args.seconds)
                finally:
                    # Stopping flushes the exporters: the spans of the window are all in.
                    await asyncio.to_thread(bench.stop_mesh)
                run = Run(workload, mode, round_, done, args.seconds, 0)
                run.spans = bench.receiver.spans - spans_before
                runs.append(run)
                print(
                    f"round {round_} {workload:6} {mode:8} {run.rate:8.1f}/s"
                    + (f"  ({run.spans} spans)" if mode == "traced" else ""),
                    flush=True,
                )
    return runs


def section(runs: list[Run], args: argparse.Namespace, command: str) -> str:
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
        f"(load average {load1:.1f} at the end).",
        "",
        "| workload | untraced median /s | traced median /s | traced / untraced | spans per "
        "interaction | runs (untraced; traced) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for workload in args.workloads:
        off = [r for r in runs if r.workload == workload and r.mode == "untraced"]
        on = [r for r in runs if r.workload == workload and r.mode == "traced"]
        off_median = statistics.median(r.rate for r in off)
        on_median = statistics.median(r.rate for r in on)
        per = sum(r.spans for r in on) / max(1, sum(r.done for r in on))
        lines.append(
            f"| {workload} | {off_median:,.0f} | {on_median:,.0f} | "
            f"**{on_median / off_median:.2f}** | {per:.1f} | "
            + ", ".join(f"{r.rate:,.0f}" for r in off)
            + "; "
            + ", ".join(f"{r.rate:,.0f}" for r in on)
            + " |"
        )
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
    return section(runs, args, command)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--workloads", nargs="+", choices=("search", "emit"), default=["search", "emit"]
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
