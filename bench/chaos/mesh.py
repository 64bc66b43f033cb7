"""The chaos check's mesh: a 3-node Kafka cluster with the topics at replication factor 3,
and two restartable gateway processes, each with its own public and admin ports."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from datetime import datetime
from pathlib import Path

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.chaos.config import ChaosConfig
from bench.chaos.counters import Timeline
from bench.harness.processes import (
    Child,
    GatewayPorts,
    answers_readyz,
    mesh_env,
    spawn,
    wait_ready,
)
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings


class GatewayProcess:
    """One gateway, restartable on the same ports; each generation logs to its own file."""

    def __init__(self, name: str, ports: GatewayPorts, env: dict[str, str], workdir: Path):
        self.name = name
        self.ports = ports
        self.env = env
        self.workdir = workdir
        self.child: Child | None = None
        self.generation = 0

    @property
    def url(self) -> str:
        return self.ports.url

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    @property
    def alive(self) -> bool:
        return self.child is not None and self.child.alive

    def spawn(self) -> None:
        log_path = self.workdir / f"gateway-{self.name}-{self.generation}.log"
        self.generation += 1
        self.child = spawn(f"gateway {self.name}", ["gateway"], self.env, log_path)

    def signal(self, sig: int, wait_s: float) -> int | None:
        """Send ``sig`` and wait (bounded) for the exit; SIGKILL when it outstays."""
        return None if self.child is None else self.child.stop(sig, timeout=wait_s)

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 60.0) -> None:
        assert self.child is not None
        await wait_ready(
            [self.child],
            [answers_readyz(session, self.url)],
            what=f"gateway {self.name}",
            timeout=timeout,
        )


class ChaosMesh:
    def __init__(self, config: ChaosConfig, workdir: Path, timeline: Timeline) -> None:
        self.config = config
        self.workdir = workdir
        self.timeline = timeline
        self.prefix = f"chaos{uuid.uuid4().hex[:8]}"
        self.kafka = LocalKafka(workdir / "kafka", heap=config.kafka_heap)
        self.bootstrap = ""
        self.settings: NexusSettings | None = None
        self.gateways: list[GatewayProcess] = []

    async def start(self, session: aiohttp.ClientSession) -> None:
        began = time.monotonic()
        self.bootstrap = await asyncio.to_thread(self.kafka.start, nodes=3, port=0, timeout=180)
        self.settings = NexusSettings(
            kafka_bootstrap_servers=self.bootstrap,
            topic_prefix=self.prefix,
            topic_replication_factor=3,
            topic_min_insync_replicas=2,
            clients_partitions=self.config.clients_partitions,
            domain_partitions=2,
            dlq_partitions=1,
            auth="none",
        )
        registry = load_registry(self.settings.schemas_dir)
        await ensure_topics(self.settings, registry.domains)
        self.timeline.note(
            f"kafka 3 nodes at {self.bootstrap}, topics {self.prefix}.* (RF 3, min.insync 2) "
            f"in {time.monotonic() - began:.1f} s"
        )
        base = mesh_env(
            self.bootstrap,
            self.prefix,
            {
                "NEXUS_TOPIC_REPLICATION_FACTOR": "3",
                "NEXUS_TOPIC_MIN_INSYNC_REPLICAS": "2",
                "NEXUS_CLIENTS_PARTITIONS": str(self.config.clients_partitions),
                "NEXUS_DOMAIN_PARTITIONS": "2",
                "NEXUS_DLQ_PARTITIONS": "1",
                "NEXUS_GATEWAY_PRODUCE_TIMEOUT_S": "5",
                "NEXUS_GATEWAY_DRAIN_TIMEOUT_S": "10",
                "NEXUS_LOG_LEVEL": "INFO",
                # Tracing is not what this checks; without a collector the OTLP exporter would
                # retry in the background and hold up each gateway's exit by several seconds.
                "OTEL_SDK_DISABLED": "true",
            },
        )
        for name in ("a", "b"):
            ports = GatewayPorts.free()
            env = {**base, **ports.env(), "NEXUS_GATEWAY_INSTANCE": f"chaos-{name}"}
            self.gateways.append(GatewayProcess(name, ports, env, self.workdir))
        for gateway in self.gateways:
            gateway.spawn()
        for gateway in self.gateways:
            await gateway.wait_ready(session)
        self.timeline.note("gateways up: " + ", ".join(f"{g.name} {g.url}" for g in self.gateways))

    async def leaders(self) -> dict[int, int]:
        """The leader broker of each ``<prefix>.clients`` partition."""
        assert self.settings is not None
        deadline = time.monotonic() + 60
        while True:
            admin = AIOKafkaAdminClient(**client_kwargs(self.settings))
            try:
                await admin.start()
                described = await admin.describe_topics([TopicNames(prefix=self.prefix).clients])
                return {int(p["partition"]): int(p["leader"]) for p in described[0]["partitions"]}
            except KafkaError:
                # Right after a broker restart the admin client may pick a node that is not
                # ready yet; the question is only for the report, so ask again.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
            finally:
                await admin.close()

    def fencing(self, broker: int, killed: datetime) -> tuple[float | None, bool]:
        """Read the surviving nodes' logs: seconds from the kill until the controller fenced
        ``broker``, and whether a new controller was elected meanwhile."""
        fenced: float | None = None
        moved = False
        for node in self.kafka.status().nodes:
            if node.node_id == broker:
                continue
            with contextlib.suppress(OSError):
                for line in node.log_path.read_text(errors="replace").splitlines():
                    if not line.startswith("[") or len(line) < 25:
                        continue
                    try:
                        at = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
                    except ValueError:
                        continue
                    after = (at - killed).total_seconds()
                    if after < 0:
                        continue
                    if "handleBrokerFenced" in line and fenced is None:
                        fenced = after
                    if "RaftManager" in line and "transition to Leader" in line:
                        moved = True
        return fenced, moved

    def shutdown(self) -> None:
        for gateway in self.gateways:
            gateway.signal(signal.SIGTERM, 20)
        with contextlib.suppress(Exception):
            self.kafka.stop()
