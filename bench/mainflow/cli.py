"""``python -m bench.mainflow_bench``: the command line, one whole run, the docs update."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import mainflow
from bench.harness.processes import stop_all_on_sigterm
from bench.harness.procstat import background_load
from bench.harness.report import DOC, write_section
from bench.mainflow.fanout import fanout_phase, raise_fd_limit
from bench.mainflow.mesh import Mesh
from bench.mainflow.report import BEGIN_MARK, END_MARK, render
from bench.mainflow.search import SearchRun, search_phase


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
    parser = argparse.ArgumentParser(description=(mainflow.__doc__ or "").split("\n", 1)[0])
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
    stop_all_on_sigterm()
    section = asyncio.run(run(args, command))
    print()
    print(section)
    if not args.no_doc:
        write_section(args.doc, section, BEGIN_MARK, END_MARK)
        print(f"updated {args.doc}")
    return 0
