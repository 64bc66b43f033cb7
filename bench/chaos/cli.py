"""``python -m bench.chaos``: the command line, the printed verdict and the docs update."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import chaos
from bench.chaos.config import ChaosConfig
from bench.chaos.report import BEGIN_MARK, END_MARK, render_section, render_table
from bench.chaos.run import run
from bench.harness.processes import stop_all_on_sigterm
from bench.harness.report import DOC, write_section


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(chaos.__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of traffic")
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--clients-per-campaign", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--emit-interval", type=float, default=0.5, help="mean seconds between a client's events"
    )
    parser.add_argument(
        "--publish-rate", type=float, default=5.0, help="campaign.updated events per second"
    )
    parser.add_argument("--workdir", type=Path, help="keep logs and Kafka data here")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to update")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = ChaosConfig(
        duration=args.duration,
        campaigns=args.campaigns,
        clients_per_campaign=args.clients_per_campaign,
        seed=args.seed,
        emit_interval_s=args.emit_interval,
        publish_rate=args.publish_rate,
        workdir=args.workdir,
    )
    try:
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    given: list[str] = []
    skip = False
    for arg in sys.argv[1:] if argv is None else argv:
        # Where the logs went and whether the docs were written do not change the result.
        if skip or arg == "--write-docs" or arg.startswith("--workdir"):
            skip = arg == "--workdir"
            continue
        given.append(arg)
    command = " ".join([".venv/bin/python -m bench.chaos", *given])
    # The clients' Kafka connections log every refused connect while a broker is down.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    stop_all_on_sigterm()
    result = asyncio.run(run(config))
    print()
    print(render_table(result))
    if result.verdict.worst:
        print("\nfirst problems:")
        for line in result.verdict.worst[:20]:
            print(f"  {line}")
    for failure in result.failures:
        print(f"FAILURE: {failure}")
    print(f"\n{'PASS' if result.ok else 'FAIL'}")
    if args.write_docs:
        write_section(args.doc, render_section(result, command), BEGIN_MARK, END_MARK)
        print(f"updated {args.doc}")
    return 0 if result.ok else 1
