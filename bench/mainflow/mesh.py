"""The main flow's mesh: the broker, the topics, one gateway and one search service as real
processes, their pids for CPU accounting, and the gateway's /metrics."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness.broker import Broker, create_topics
from bench.harness.processes import (
    Child,
    GatewayPorts,
    answers_readyz,
    logged,
    mesh_env,
    service_metrics_env,
    spawn,
    stop_all,
    wait_ready,
)
from nexus_mesh.settings import NexusSettings

CLIENT = "bench client"


async def scrape_metrics(session: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """The gateway's /metrics, each metric name summed over its labels."""
    totals: dict[str, float] = {}
    async with session.get(base_url + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def metric_delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


@dataclass
class Mesh:
    """The broker (ours or the environment's), the topics, one gateway, one search service."""

    workdir: Path
    gateway_env: dict[str, str]
    tracing: bool = False
    broker: Broker | None = None
    prefix: str = ""
    settings: NexusSettings | None = None
    gateway: Child | None = None
    search: Child | None = None
    gateway_url: str = ""
    children: list[Child] = field(default_factory=list)

    @property
    def kafka_version(self) -> str:
        return self.broker.description if self.broker is not None else "no broker"

    def pids(self) -> dict[str, int]:
        pids = {CLIENT: os.getpid()}
        if self.gateway is not None:
            pids["gateway"] = self.gateway.pid
        if self.search is not None:
            pids["search service"] = self.search.pid
        broker = self.broker.pid() if self.broker is not None else None
        if broker is not None:
            pids["kafka broker"] = broker
        return pids

    async def start(self) -> None:
        self.broker = await Broker.start(self.workdir)
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.settings = await create_topics(self.broker.bootstrap, self.prefix)
        ports = GatewayPorts.free()
        self.gateway_url = ports.url
        self.gateway = self._spawn(
            "gateway",
            ["gateway"],
            **ports.env(),
            NEXUS_GATEWAY_INSTANCE="bench-gateway",
            NEXUS_LOG_LEVEL="WARNING",
            **self.gateway_env,
        )
        # INFO only for its start-up lines ("service search ready"); it logs nothing per event.
        self.search = self._spawn(
            "search", ["service", "search"], **service_metrics_env(), NEXUS_LOG_LEVEL="INFO"
        )
        async with aiohttp.ClientSession() as session:
            await wait_ready(
                self.children,
                [
                    answers_readyz(session, self.gateway_url),
                    logged(self.search, "service search ready"),
                ],
                what="mesh",
            )

    def _spawn(self, name: str, args: list[str], **extra: str) -> Child:
        assert self.broker is not None
        tracing = {} if self.tracing else {"OTEL_SDK_DISABLED": "true"}
        env = mesh_env(self.broker.bootstrap, self.prefix, {**tracing, **extra})
        child = spawn(name, args, env, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def stop(self) -> None:
        stop_all(list(reversed(self.children)))
        if self.broker is not None:
            self.broker.stop()
