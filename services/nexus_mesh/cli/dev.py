"""``nexus dev``: the whole mesh on this machine with one command.

A real local Kafka (unless ``NEXUS_KAFKA_BOOTSTRAP_SERVERS`` names one), its topics, a gateway
serving the demo page and the search service, each as its own process. Ctrl-C stops all of it,
including the broker when this command started it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev", help="run broker, gateway, search service and demo page locally"
    )
    parser.add_argument("--port", type=int, default=8080, help="gateway port on 127.0.0.1")
    parser.add_argument("--kafka-data-dir", type=Path, default=None, help="local broker directory")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="keep JWT auth on (needs NEXUS_JWT_SECRET); by default dev disables it",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from nexus_mesh.kafka.topics import ensure_topics
    from nexus_mesh.localkafka import AlreadyRunningError, LocalKafka
    from nexus_mesh.registry import load_registry
    from nexus_mesh.settings import load_settings

    env = dict(os.environ)
    started_broker: LocalKafka | None = None
    if "NEXUS_KAFKA_BOOTSTRAP_SERVERS" not in env:
        local = LocalKafka(args.kafka_data_dir)
        try:
            bootstrap = local.start(nodes=1, port=9092)
            started_broker = local
            print(f"started Apache Kafka at {bootstrap} (data in {local.home})")
        except AlreadyRunningError as running:
            bootstrap = running.bootstrap_servers
            print(f"using the local Kafka already running at {bootstrap}")
        env["NEXUS_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    if not args.auth:
        env["NEXUS_AUTH"] = "none"
    env.update(
        NEXUS_GATEWAY_HOST="127.0.0.1",
        NEXUS_GATEWAY_PORT=str(args.port),
        NEXUS_GATEWAY_DEMO="true",
    )
    children: list[subprocess.Popen[bytes]] = []
    try:
        os.environ.update(env)
        settings = load_settings()
        registry = load_registry(settings.schemas_dir)
        report = asyncio.run(ensure_topics(settings, registry.domains))
        print(f"topics: {len(report.created)} created, {len(report.existing)} existing")
        command = [sys.executable, "-m", "nexus_mesh.cli"]
        children.append(subprocess.Popen([*command, "gateway"], env=env))
        children.append(subprocess.Popen([*command, "service", "search"], env=env))
        url = f"http://127.0.0.1:{args.port}/"
        _wait_ready(url + "readyz", children, timeout=60)
        print(f"\nNexus Mesh is running: open {url}  (Ctrl-C stops everything)\n", flush=True)
        while all(child.poll() is None for child in children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                children[0].wait(timeout=0.5)
        failed = [c.args for c in children if c.poll() not in (None, 0)]
        if failed:
            print(f"nexus dev: a process exited: {failed}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)
        if started_broker is not None:
            started_broker.stop()
            print("stopped the local Kafka")


def _wait_ready(url: str, children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    from nexus_mesh.errors import NexusError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise NexusError("a mesh process exited during start; see its output above")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise NexusError(f"the gateway did not become ready within {timeout:.0f} s ({url})")


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
