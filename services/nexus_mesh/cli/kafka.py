"""``nexus kafka start|stop|status``: a real local Apache Kafka broker on loopback."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

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
    start.add_argument("--port", type=int, default=9092, help="first broker port (0: any free)")
    start.add_argument("--nodes", type=int, default=1, help="brokers in the cluster (e.g. 3)")
    start.add_argument("--version", default=DEFAULT_KAFKA_VERSION, help="Apache Kafka version")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for it")
    start.set_defaults(handler=_start)
    stop = with_home(actions.add_parser("stop", help="stop what `start` started"))
    stop.set_defaults(handler=_stop)
    status = with_home(actions.add_parser("status", help="show the brokers and their log files"))
    status.set_defaults(handler=_status)


def _start(args: argparse.Namespace) -> int:
    local = LocalKafka(args.data_dir, version=args.version)
    began = time.monotonic()
    try:
        bootstrap = local.start(nodes=args.nodes, port=args.port, timeout=args.timeout)
    except AlreadyRunningError as exc:
        print(f"nexus: {exc} (not starting another)", file=sys.stderr)
        print(exc.bootstrap_servers)
        return 0
    elapsed = time.monotonic() - began
    print(
        f"Apache Kafka {args.version}: {args.nodes} node(s) ready in {elapsed:.1f} s",
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
    return 0 if status.running else 3
