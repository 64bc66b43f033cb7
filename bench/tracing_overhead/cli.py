"""``python -m bench.tracing_overhead_bench``: the command line, the receiver, the runs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bench import tracing_overhead
from bench.harness.processes import stop_all_on_sigterm
from bench.harness.report import DOC, write_section
from bench.tracing_overhead.mesh import MODES, Bench, Receiver
from bench.tracing_overhead.report import BEGIN_MARK, END_MARK, section
from bench.tracing_overhead.span_cost import span_costs
from bench.tracing_overhead.workload import measure
from nexus_mesh.localkafka.cluster import free_port


async def run(args: argparse.Namespace, command: str) -> str:
    load0 = os.getloadavg()[0]
    receiver = Receiver()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", receiver.export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.url = f"http://127.0.0.1:{port}"
    costs = await asyncio.to_thread(span_costs, receiver.url)
    receiver.spans = receiver.requests = 0
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
    doc = tracing_overhead.__doc__
    parser = argparse.ArgumentParser(description=doc.split("\n")[0] if doc else None)
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
        help="traced: 100%% sampled and exported (lean spans, fastotel); untraced: "
        "OTEL_SDK_DISABLED; sampled: 10%% parent-based; unexported: 100%% sampled, no exporter "
        "(the spans' own cost); sdk-spans: the SDK's spans, fastotel; sdk-export: the SDK's "
        "spans and batch processor",
    )
    parser.add_argument(
        "--paced",
        nargs="*",
        default=[],
        metavar="WORKLOAD=RATE",
        help="after the saturating runs, traced and untraced runs offering RATE interactions "
        "per second in all: the CPU per interaction then compares like with like",
    )
    parser.add_argument(
        "--no-warmup-round",
        dest="warmup_round",
        action="store_false",
        help="skip the first round of every workload and mode that is run and thrown away",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only")
    return parser.parse_args(argv)


def _paced(specs: Sequence[str]) -> dict[str, float]:
    paced: dict[str, float] = {}
    for spec in specs:
        workload, _, rate = spec.partition("=")
        if workload not in ("search", "emit") or not rate.replace(".", "", 1).isdigit():
            raise SystemExit(f"--paced {spec!r}: expected search=RATE or emit=RATE")
        paced[workload] = float(rate)
    return paced


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.paced = _paced(args.paced)
    command = ".venv/bin/python -m bench.tracing_overhead_bench " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    stop_all_on_sigterm()
    text = asyncio.run(run(args, command.strip()))
    print(text)
    if not args.no_doc:
        write_section(DOC, text, BEGIN_MARK, END_MARK)
    return 0
