"""``nexus kafka start|stop|status``: a real local Apache Kafka broker on loopback."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from nexus_mesh.cli.argtypes import at_least_one, port, positive_seconds
from nexus_mesh.localkafka import DEFAULT_KAFKA_VERSION, AlreadyRunningError, LocalKafka


def register(subparsers: Any) -> None:
    kafka = subparsers.add_parser("kafka", help="run a local Apache Kafka (KRaft) on 127.0.0.1")
    actions = kafka.add_subparsers(dest="action", metavar="ACTION", required=True)

    def with_home(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="where the cluster keeps data, logs and state (default: "
            "$XDG_STATE_HOME/nexus-mesh/kafka)",
        )
        return parser

    start = with_home(actions.add_parser("start", help="start the broker(s) and wait for them"))
    start.add_argument(
        "--port",
        type=port,
        default=None,
        help="first broker port (0: any free; default: the recorded ports, else 9092)",
    )
    start.add_argument(
        "--nodes",
        type=at_least_one,
        default=None,
        help="brokers in the cluster, e.g. 3 (default: the recorded count, else 1)",
    )
    start.add_argument("--version", default=DEFAULT_KAFKA_VERSION, help="Apache Kafka version")
    start.add_argument(
        "--timeout", type=positive_seconds, default=90.0, help="seconds to wait for it"
    )
    start.set_defaults(handler=_start)
    stop = with_home(actions.add_parser("stop", help="stop what `start` started"))
    stop.set_defaults(handler=_stop)
    status = with_home(
        actions.add_parser(
            "status",
            help="show the brokers and their log files "
            "(exit 1 when a node is down, 3 when none runs)",
        )
    )
    status.set_defaults(handler=_status)


def _start(args: argparse.Namespace) -> int:
    local = LocalKafka(args.data_dir, version=args.version)
    # Which nodes of a partly running cluster this start brings back, to say so.
    before = local.status()
    restarting = before.stopped_nodes if before.running else ()
    began = time.monotonic()
    try:
        bootstrap = local.start(nodes=args.nodes, port=args.port, timeout=args.timeout)
    except AlreadyRunningError as exc:
        print(f"nexus: {exc} (not starting another)", file=sys.stderr)
        print(exc.bootstrap_servers)
        return 0
    elapsed = time.monotonic() - began
    if restarting:
        print(
            f"restarted node(s) {_ids(restarting)} of the running cluster; "
            f"{len(before.nodes)} node(s) ready in {elapsed:.1f} s",
            file=sys.stderr,
        )
    else:
        print(
            f"Apache Kafka {args.version}: {len(local.status().nodes)} node(s) ready "
            f"in {elapsed:.1f} s",
            file=sys.stderr,
        )
    print(f"data and logs: {local.home}", file=sys.stderr)
    print(bootstrap)
    return 0


def _stop(args: argparse.Namespace) -> int:
    local = LocalKafka(args.data_dir)
    stopped = local.stop()
    if stopped:
        print(f"stopped node(s) {', '.join(map(str, stopped))} of {local.home}")
    else:
        print(f"no local Kafka running from {local.home}")
    return 0


def _status(args: argparse.Namespace) -> int:
    """Exit 0 when every node runs, 3 when none does, 1 when some died (a degraded cluster)."""
    local = LocalKafka(args.data_dir)
    status = local.status()
    if not status.nodes:
        print(f"no local Kafka in {local.home}")
        return 3
    print(f"cluster: {status.home}")
    for node in status.nodes:
        state = f"running (pid {node.pid})" if node.running else "stopped"
        print(f"node {node.node_id}: {node.bootstrap} {state}; log {node.log_path}")
    print(f"bootstrap servers: {status.bootstrap_servers}")
    if not status.running:
        return 3
    if status.stopped_nodes:
        data_dir = f" --data-dir {shlex.quote(str(args.data_dir))}" if args.data_dir else ""
        command = f"nexus kafka start{data_dir}"
        print(
            f"nexus: node(s) {_ids(status.stopped_nodes)} of {len(status.nodes)} stopped; "
            f"`{command}` starts them again",
            file=sys.stderr,
        )
        return 1
    return 0


def _ids(node_ids: tuple[int, ...]) -> str:
    return ", ".join(map(str, node_ids))
