"""Real mesh processes for end-to-end tests: gateways and services started as `nexus ...`.

Each process runs the installed CLI with the test's broker and topic prefix, logs to a file
in the test's temp dir, and is stopped with SIGTERM (then SIGKILL) when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from nexus_gateway.auth import issue_token
from nexus_mesh.client import MeshClient
from nexus_mesh.localkafka.cluster import free_port, free_ports
from nexus_mesh.localkafka.orphans import dies_with_this_process

JWT_SECRET = "e2e-secret-" + "x" * 48


@dataclass
class MeshProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None
    admin_url: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Mesh:
    bootstrap: str
    prefix: str
    workdir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    processes: list[MeshProcess] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
        env.update(
            NEXUS_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            NEXUS_TOPIC_PREFIX=self.prefix,
            NEXUS_CLIENTS_PARTITIONS="4",
            NEXUS_DOMAIN_PARTITIONS="2",
            NEXUS_DLQ_PARTITIONS="1",
            NEXUS_AUTH="jwt",
            NEXUS_JWT_SECRET=JWT_SECRET,
            NEXUS_LOG_LEVEL="INFO",
        )
        # No collector runs beside the tests; a test about tracing names its own.
        env.setdefault("OTEL_TRACES_EXPORTER", "none")
        env.update(self.env_overrides)
        env.update(extra)
        return env

    def token(self, user_id: str, campaigns: list[str], ttl_s: int = 3600) -> str:
        return issue_token(
            secret_or_key=JWT_SECRET, user_id=user_id, campaigns=campaigns, ttl_s=ttl_s
        )

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> MeshProcess:
        log_path = self.workdir / f"{name}-{len(self.processes)}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "nexus_mesh.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Killed with the test session, were it to end before its fixtures stop them.
                preexec_fn=dies_with_this_process(),
            )
        started = MeshProcess(name=name, process=process, log_path=log_path)
        self.processes.append(started)
        return started

    def gateway(
        self, *, timeout: float = 60.0, wait_ready: bool = True, **extra: str
    ) -> MeshProcess:
        port, admin_port = free_ports(2)
        env = self.env(
            NEXUS_GATEWAY_HOST="127.0.0.1",
            NEXUS_GATEWAY_PORT=str(port),
            NEXUS_GATEWAY_ADMIN_PORT=str(admin_port),
            **extra,
        )
        gateway = self._spawn("gateway", ["gateway"], env)
        gateway.url = f"http://127.0.0.1:{port}"
        gateway.admin_url = f"http://127.0.0.1:{admin_port}"
        if not wait_ready:
            return gateway
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if gateway.process.poll() is not None:
                raise AssertionError(f"gateway exited during start:\n{gateway.log()}")
            try:
                with urllib.request.urlopen(gateway.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return gateway
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway not ready within {timeout:.0f} s:\n{gateway.log()}")

    def service(self, name: str, *, timeout: float = 60.0, **extra: str) -> MeshProcess:
        """A service process; its Prometheus endpoint is at ``url`` + ``/metrics``."""
        extra.setdefault("NEXUS_SERVICE_METRICS_HOST", "127.0.0.1")
        extra.setdefault("NEXUS_SERVICE_METRICS_PORT", str(free_port()))
        service = self._spawn(name, ["service", name], self.env(**extra))
        service.url = f"http://127.0.0.1:{extra['NEXUS_SERVICE_METRICS_PORT']}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise AssertionError(f"service {name} exited during start:\n{service.log()}")
            if f"service {name} ready" in service.log():
                return service
            time.sleep(0.1)
        raise AssertionError(f"service {name} not ready within {timeout:.0f} s:\n{service.log()}")

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()


async def joined(
    stack: AsyncExitStack, mesh: Mesh, url: str, campaign: str, user: str
) -> MeshClient:
    """A client of ``user`` in ``campaign`` on the gateway at ``url``, with a token of its
    own, closed when ``stack`` closes."""
    client = await MeshClient.connect(
        url, campaign_id=campaign, user_id=user, token=mesh.token(user, [campaign])
    )
    return await stack.enter_async_context(client)
