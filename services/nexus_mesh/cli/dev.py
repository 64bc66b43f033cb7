"""``nexus dev``: the whole mesh on this machine with one command.

A real local Kafka (unless ``NEXUS_KAFKA_BOOTSTRAP_SERVERS`` names one), its topics, a gateway
serving the demo page and the search service (and services of your own, ``--service``), each
as its own process, and a local Zipkin
that shows the trace of every interaction (``--no-traces`` skips it). Ctrl-C stops all of it,
including the broker when this command started it; so do SIGTERM and SIGHUP (a process
manager, a closed terminal), which would otherwise end this process without cleaning up and
leave the detached broker running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_mesh.cli.argtypes import fixed_port, port
from nexus_mesh.cli.dev_processes import Watched, stop_processes
from nexus_mesh.localkafka.orphans import dies_with_this_process

if TYPE_CHECKING:
    from nexus_mesh.localzipkin import LocalZipkin


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev", help="run broker, gateway, search service and demo page locally"
    )
    parser.add_argument("--port", type=fixed_port, default=8080, help="gateway port on 127.0.0.1")
    parser.add_argument(
        "--admin-port",
        type=fixed_port,
        default=None,
        help="the gateway's admin port on 127.0.0.1: /metrics, /stats, /drain (default: "
        "NEXUS_GATEWAY_ADMIN_PORT if set, else --port + 1)",
    )
    parser.add_argument("--kafka-data-dir", type=Path, default=None, help="local broker directory")
    parser.add_argument(
        "--kafka-port",
        type=port,
        default=None,
        help="local broker port on 127.0.0.1 (default: the port the data directory's broker "
        "was first started on, else 9092; 0: any free port)",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="keep JWT auth on (needs NEXUS_JWT_SECRET); by default dev disables it",
    )
    parser.add_argument(
        "--traces",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run a local Zipkin and send every process's traces to it (default: yes, unless "
        "OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT already say where they go)",
    )
    parser.add_argument("--zipkin-port", type=int, default=9411, help="Zipkin port on 127.0.0.1")
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="MODULE:ATTRIBUTE",
        help="also run a service of your own, as `nexus service MODULE:ATTRIBUTE` from the "
        "current directory (repeatable); its metrics on a free loopback port",
    )
    parser.add_argument(
        "--search",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the search service (--no-search: a registry without its types)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from nexus_mesh.kafka.topics import ensure_topics
    from nexus_mesh.localkafka import AlreadyRunningError, LocalKafka
    from nexus_mesh.registry import load_registry
    from nexus_mesh.settings import load_settings

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    env = dict(os.environ)
    choose_admin_port(env, args.port, args.admin_port)  # before anything is started
    choose_service_metrics_port(env, args.port)
    if not args.auth:
        env["NEXUS_AUTH"] = "none"
    env.update(
        NEXUS_GATEWAY_HOST="127.0.0.1",
        NEXUS_GATEWAY_PORT=str(args.port),
        NEXUS_GATEWAY_DEMO="true",
        NEXUS_SERVICE_METRICS_HOST="127.0.0.1",
    )
    # Authentication is off: without this, any page open in the developer's browser could
    # connect to the loopback gateway and read or write every campaign. Only the demo page's
    # own origins may (and clients that are not browsers, which send no Origin).
    env.setdefault("NEXUS_GATEWAY_ALLOWED_ORIGINS", json.dumps(dev_origins(args.port)))
    env.setdefault("NEXUS_LOG_FORMAT", "text")
    # Refused before a broker or Zipkin is started (that takes ~20 s): bad settings, auth
    # without its keys, or a port a previous `nexus dev` (one killed, its children left
    # behind) still holds, whose gateway would otherwise answer this one's readiness check.
    os.environ.update(env)  # what the settings are read from, here and in the children
    check_before_start(search=args.search)
    started_broker: LocalKafka | None = None
    if "NEXUS_KAFKA_BOOTSTRAP_SERVERS" not in env:
        # Killed with it (SIGKILL, the OOM killer) rather than left holding its port and data.
        local = LocalKafka(args.kafka_data_dir, die_with_parent=True)
        try:
            # No layout forced on a directory that holds one: its recorded ports are reused.
            bootstrap = local.start(port=args.kafka_port)
            started_broker = local
            print(f"started Apache Kafka at {bootstrap} (data in {local.home})")
        except AlreadyRunningError as running:
            bootstrap = running.bootstrap_servers
            print(f"using the local Kafka already running at {bootstrap}")
        except KeyboardInterrupt:
            local.stop()  # interrupted while starting: nothing of it may stay behind
            raise
        env["NEXUS_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    children: list[subprocess.Popen[bytes]] = []
    zipkin = None
    try:
        zipkin = _start_traces(args, env)
        os.environ.update(env)
        settings = load_settings()
        registry = load_registry(settings.schemas_dir)
        report = asyncio.run(ensure_topics(settings, registry.domains))
        print(f"topics: {len(report.created)} created, {len(report.existing)} existing")
        processes = mesh_processes(env, search=args.search, services=args.service)
        for command, child_env in processes:
            # Killed with this process: a `nexus dev` killed outright (an IDE's stop, the OOM
            # killer) left its gateway and services holding their ports.
            armed = dies_with_this_process()
            children.append(subprocess.Popen(command, env=child_env, preexec_fn=armed))
        watched = Watched(children, started_broker)
        url = f"http://127.0.0.1:{args.port}/"
        _wait_ready(url + "readyz", watched, timeout=60)
        print(f"\nNexus Mesh is running: open {url}  (Ctrl-C stops everything)", flush=True)
        if settings.gateway_admin_port:
            admin = f"http://127.0.0.1:{settings.gateway_admin_port}"
            print(f"Gateway metrics and stats: {admin}/metrics  {admin}/stats", flush=True)
        for command, child_env in processes[1:]:
            if child_env.get("NEXUS_SERVICE_METRICS_PORT", "0") != "0":
                metrics = f"http://127.0.0.1:{child_env['NEXUS_SERVICE_METRICS_PORT']}/metrics"
                print(f"Service {command[-1]} metrics: {metrics}", flush=True)
        if zipkin is not None:
            print(f"Traces of what you do there: {zipkin.ui_url}", flush=True)
        print(flush=True)
        while not (ended := watched.ended()):
            with contextlib.suppress(subprocess.TimeoutExpired):
                children[0].wait(timeout=0.5)
        # Whatever ended, the rest of the mesh is stopped: it says which, or the developer
        # is left guessing why their mesh went away.
        for process in ended:
            print(f"nexus dev: {process}", file=sys.stderr, flush=True)
        return 1 if any(process.failed for process in ended) else 0
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C (or SIGTERM) during the stop would end it halfway, the broker left
        # running with nobody to stop it: the stop is finished first.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        print("stopping the mesh", flush=True)
        stop_processes(children)
        if zipkin is not None:
            zipkin.stop()
        # Not said of a broker that had already died: that is what dev reported above.
        if started_broker is not None and started_broker.stop():
            print("stopped the local Kafka")


def check_before_start(*, search: bool) -> None:
    """Raise :class:`ConfigurationError` for what would stop the mesh once started: settings,
    JWT auth without its keys, and a loopback port dev's processes need that something
    already listens on."""
    from nexus_gateway.auth import Authenticator
    from nexus_mesh.errors import ConfigurationError
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    Authenticator(settings)
    ports = [("gateway", settings.gateway_port)]
    if settings.gateway_admin_port:
        ports.append(("gateway admin", settings.gateway_admin_port))
    if search and settings.service_metrics_port:
        ports.append(("search service metrics", settings.service_metrics_port))
    for name, number in ports:
        if not port_is_free(number):
            raise ConfigurationError(
                f"the {name} port 127.0.0.1:{number} is in use: another `nexus dev` (stop it; "
                "one killed outright may have left its processes, and `nexus kafka stop` stops "
                "its broker), or pass other ports (--port, --admin-port)"
            )


def port_is_free(number: int) -> bool:
    """Whether a listener could bind 127.0.0.1:``number`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", number))
        except OSError:
            return False
    return True


def mesh_processes(
    env: Mapping[str, str], *, search: bool, services: list[str]
) -> list[tuple[list[str], dict[str, str]]]:
    """The command and environment of each process dev starts: the gateway, the search
    service unless ``search`` is False, and each of ``services`` (``MODULE:ATTRIBUTE``) with
    its metrics on a free loopback port of its own."""
    from nexus_mesh.localkafka.cluster import free_port

    nexus = [sys.executable, "-m", "nexus_mesh.cli"]
    processes = [([*nexus, "gateway"], dict(env))]
    if search:
        processes.append(([*nexus, "service", "search"], dict(env)))
    for target in services:
        own = dict(env, NEXUS_SERVICE_METRICS_PORT=str(free_port()))
        processes.append(([*nexus, "service", target], own))
    return processes


def choose_admin_port(env: dict[str, str], gateway_port: int, admin_port: int | None) -> None:
    """The gateway's admin listener: ``--admin-port``, else what the environment says, else
    next to the gateway's port, so that two ``nexus dev`` on different ports do not collide
    on the settings' fixed default."""
    from nexus_mesh.errors import ConfigurationError

    if admin_port is None and env.get("NEXUS_GATEWAY_ADMIN_PORT", "").strip():
        return
    if admin_port is None:
        admin_port = gateway_port + 1 if gateway_port < 65535 else gateway_port - 1
    if admin_port == gateway_port:
        raise ConfigurationError(
            f"the admin port cannot be the gateway's port ({gateway_port}): pass another "
            "--admin-port"
        )
    env["NEXUS_GATEWAY_ADMIN_PORT"] = str(admin_port)


def choose_service_metrics_port(env: dict[str, str], gateway_port: int) -> None:
    """The search service's metrics port: what the environment says, else the first port
    after the gateway's that the admin listener does not take, so that a second ``nexus
    dev`` on another ``--port`` does not collide with the first on the settings' 9464."""
    if env.get("NEXUS_SERVICE_METRICS_PORT", "").strip():
        return
    taken = {gateway_port, int(env.get("NEXUS_GATEWAY_ADMIN_PORT", "0") or 0)}
    candidates = [p for p in range(gateway_port + 1, gateway_port + 4) if p <= 65535]
    candidates += range(gateway_port - 1, gateway_port - 4, -1)
    env["NEXUS_SERVICE_METRICS_PORT"] = str(next(p for p in candidates if p not in taken))


def _interrupt(signum: int, frame: object) -> None:
    # Taken like Ctrl-C, so that the same ``finally`` stops the children and the broker.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _start_traces(args: argparse.Namespace, env: dict[str, str]) -> LocalZipkin | None:
    """Start Zipkin and point the children's exporters at it, unless told otherwise.

    Tracing is never what stops ``nexus dev``: without a trace UI the mesh runs untraced.
    """
    from nexus_mesh.localzipkin import LocalZipkin, LocalZipkinError, cache_dir

    if args.traces is False:
        env.setdefault("OTEL_TRACES_EXPORTER", "none")
        return None
    if tracing_disabled(env):
        print("traces: none (OTEL_SDK_DISABLED=true)")
        return None
    if args.traces is None and traces_configured(env):
        print("traces: exported where the OTEL_* variables say")
        return None
    cache_dir().mkdir(parents=True, exist_ok=True)
    zipkin = LocalZipkin(port=args.zipkin_port, log_path=cache_dir() / "zipkin.log")
    if zipkin.answers():
        # Another `nexus dev` (or the user's own Zipkin): it serves these traces as well.
        print(f"traces: to the Zipkin already running, at {zipkin.ui_url}")
        point_at_zipkin(env, args.zipkin_port)
        return None
    print("starting Zipkin for traces")
    try:
        zipkin.start()
    except LocalZipkinError as exc:
        print(
            f"nexus dev: no trace UI ({exc}); running without traces (--zipkin-port picks "
            "another port)",
            file=sys.stderr,
        )
        env["OTEL_TRACES_EXPORTER"] = "none"
        return None
    point_at_zipkin(env, args.zipkin_port)
    return zipkin


def traces_configured(env: Mapping[str, str]) -> bool:
    """Whether the ``OTEL_*`` variables already say where spans go; an empty one does not,
    as tracing setup reads it (the OpenTelemetry specification)."""
    names = (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    )
    return any(env.get(name, "").strip() for name in names)


def tracing_disabled(env: Mapping[str, str]) -> bool:
    """``OTEL_SDK_DISABLED=true``: no process makes a span, so no trace UI is worth starting."""
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def point_at_zipkin(env: dict[str, str], port: int) -> None:
    """Export the children's spans to the local Zipkin on ``port``; a sampler the operator
    set (``OTEL_TRACES_SAMPLER``) still decides, every trace otherwise."""
    from nexus_mesh.localzipkin import exporter_environment

    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip()
    env.update(exporter_environment(port))
    if sampler:
        env["OTEL_TRACES_SAMPLER"] = sampler


def _wait_ready(url: str, watched: Watched, timeout: float) -> None:
    from nexus_mesh.errors import NexusError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = watched.ended()
        if ended:
            said = "; ".join(map(str, ended))
            raise NexusError(f"{said} while the mesh started; see the output above")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - loopback
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise NexusError(f"the gateway did not become ready within {timeout:.0f} s ({url})")


def dev_origins(port: int) -> list[str]:
    """The origins the demo page is served from by ``nexus dev``."""
    return [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]")]
