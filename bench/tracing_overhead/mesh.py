"""The tracing bench's processes: the broker, an OTLP/HTTP receiver in this process, and for
every run a fresh gateway and search service traced (or not) as the run's mode says."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

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

MODES = ("traced", "untraced", "sampled", "unexported", "sdk-spans", "sdk-export")


@dataclass
class Receiver:
    """An OTLP/HTTP endpoint counting what the mesh exports."""

    url: str = ""
    spans: int = 0
    requests: int = 0

    async def export(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.requests += 1
        self.spans += sum(
            len(scope.spans) for rs in message.resource_spans for scope in rs.scope_spans
        )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


@dataclass
class Bench:
    workdir: Path
    receiver: Receiver
    broker: Broker | None = None
    prefix: str = ""
    children: list[Child] = field(default_factory=list)
    started: int = 0

    async def start_broker(self) -> None:
        self.broker = await Broker.start(self.workdir)
        self.prefix = f"otel{uuid.uuid4().hex[:8]}"
        await create_topics(self.broker.bootstrap, self.prefix)

    def env(self, mode: str) -> dict[str, str]:
        assert self.broker is not None
        env = mesh_env(
            self.broker.bootstrap,
            self.prefix,
            {
                "NEXUS_LOG_LEVEL": "WARNING",
                "NEXUS_GATEWAY_RATE_PER_S": "100000",
                "NEXUS_GATEWAY_RATE_BURST": "100000",
                **service_metrics_env(enabled=False),
            },
            drop=("NEXUS_", "OTEL_"),
        )
        if mode == "untraced":
            env["OTEL_SDK_DISABLED"] = "true"
            return env
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=self.receiver.url,
            OTEL_TRACES_SAMPLER="always_on",
        )
        if mode == "unexported":
            env["OTEL_TRACES_EXPORTER"] = "none"
        if mode == "sdk-export":
            env["NEXUS_OTLP_PIPELINE"] = "sdk"
        if mode == "sdk-spans":
            env["NEXUS_OTLP_PIPELINE"] = "sdk-spans"
        if mode == "sampled":
            env.update(
                OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"
            )
        return env

    async def start_mesh(self, mode: str) -> str:
        """Start a gateway and a search service; the gateway's URL once both are ready."""
        ports = GatewayPorts.free(admin=False)
        env = self.env(mode)
        self.started += 1
        log = f"{mode}-{self.started}"
        gateway = spawn(
            "gateway", ["gateway"], {**env, **ports.env()}, self.workdir / f"{log}-gateway.log"
        )
        self.children.append(gateway)
        # INFO only for the service's start-up lines; it logs nothing per event.
        service = spawn(
            "search service",
            ["service", "search"],
            {**env, "NEXUS_LOG_LEVEL": "INFO"},
            self.workdir / f"{log}-search.log",
        )
        self.children.append(service)
        async with aiohttp.ClientSession() as session:
            await wait_ready(
                self.children,
                [logged(service, "service search ready"), answers_readyz(session, ports.url)],
                what="mesh",
            )
        return ports.url

    def stop_mesh(self) -> None:
        stop_all(self.children, timeout=30)
        self.children.clear()

    def stop(self) -> None:
        self.stop_mesh()
        if self.broker is not None:
            self.broker.stop()
