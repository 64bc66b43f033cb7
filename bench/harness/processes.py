"""Mesh processes for the benchmarks: ``python -m nexus_mesh.cli gateway`` / ``service ...``
on 127.0.0.1, each with its own ports and log file, waited for until ready, and stopped
(SIGTERM, then SIGKILL) at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from nexus_mesh.localkafka.cluster import free_port, free_ports

Check = Callable[[], Awaitable[bool]]


def stop_all_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, ``kill``) end a bench as Ctrl-C does, through its cleanup,
    which stops the broker and the mesh processes it started. Python's default would end it
    at once and leave them running, holding ports and CPU the next run measures with."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def mesh_env(
    bootstrap: str,
    prefix: str,
    extra: Mapping[str, str] | None = None,
    *,
    drop: tuple[str, ...] = ("NEXUS_",),
) -> dict[str, str]:
    """This process's environment without the variables starting with ``drop``, plus the
    broker, the topic prefix, ``NEXUS_AUTH=none`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        NEXUS_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        NEXUS_TOPIC_PREFIX=prefix,
        NEXUS_AUTH="none",
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class GatewayPorts:
    """A gateway's public port and admin port (0: no admin listener) on 127.0.0.1."""

    port: int
    admin_port: int

    @classmethod
    def free(cls, *, admin: bool = True) -> GatewayPorts:
        port, admin_port = free_ports(2)
        return cls(port=port, admin_port=admin_port if admin else 0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "NEXUS_GATEWAY_HOST": "127.0.0.1",
            "NEXUS_GATEWAY_PORT": str(self.port),
            "NEXUS_GATEWAY_ADMIN_PORT": str(self.admin_port),
        }


@dataclass
class Child:
    """One mesh process and its log (stdout and stderr)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log()[-chars:]
        return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and wait (bounded) for the exit, SIGKILL when it outstays; the exit
        code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=30)
        return self.process.returncode


def spawn(name: str, args: Sequence[str], env: dict[str, str], log_path: Path) -> Child:
    """Start ``python -m nexus_mesh.cli *args`` with ``env``, logging to ``log_path``."""
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nexus_mesh.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Child(name=name, process=process, log_path=log_path)


def stop_all(children: Sequence[Child], timeout: float = 20.0) -> None:
    """SIGTERM to every child at once, then wait for each (SIGKILL when it outstays)."""
    for child in children:
        if child.alive:
            child.process.terminate()
    for child in children:
        child.stop(timeout=timeout)


def answers_readyz(session: aiohttp.ClientSession, base_url: str) -> Check:
    """A check: ``GET base_url/readyz`` answers 200."""

    async def check() -> bool:
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with session.get(
                base_url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status == 200
        return False

    return check


def logged(child: Child, text: str) -> Check:
    """A check: ``child`` has written ``text`` to its log (a service's "... ready" line)."""

    async def check() -> bool:
        return text in child.log_tail(chars=1 << 30)

    return check


async def wait_ready(
    children: Sequence[Child], checks: Sequence[Check], *, what: str, timeout: float = 60.0
) -> None:
    """Poll ``checks`` every 0.1 s until each has passed once; raise when a child exits or
    ``timeout`` seconds pass first."""
    pending = list(checks)
    deadline = time.monotonic() + timeout
    while True:
        for child in children:
            if not child.alive:
                raise RuntimeError(f"{child.name} exited at start:\n{child.log_tail()}")
        pending = [check for check in pending if not await check()]
        if not pending:
            return
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {c.name}:\n{c.log_tail()}" for c in children)
            raise RuntimeError(f"{what} not ready within {timeout:.0f} s{logs}")
        await asyncio.sleep(0.1)


def service_metrics_env(*, enabled: bool = True) -> dict[str, str]:
    """A service's Prometheus endpoint on a free 127.0.0.1 port, or none at all (port 0)."""
    return {
        "NEXUS_SERVICE_METRICS_HOST": "127.0.0.1",
        "NEXUS_SERVICE_METRICS_PORT": str(free_port()) if enabled else "0",
    }
