"""The Kafka a benchmark uses: a single-node ``LocalKafka`` started here, or the broker
named by ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``; and the mesh's topics under a fresh prefix."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, load_settings


@dataclass
class Broker:
    bootstrap: str
    kafka: LocalKafka | None = None  # None: the environment's broker

    @classmethod
    async def start(cls, workdir: Path) -> Broker:
        """The environment's broker, or a 1-node KRaft ``LocalKafka`` in ``workdir/kafka``."""
        external = os.environ.get("NEXUS_KAFKA_BOOTSTRAP_SERVERS")
        if external:
            return cls(bootstrap=external)
        kafka = LocalKafka(workdir / "kafka")
        try:
            bootstrap = await asyncio.to_thread(kafka.start, nodes=1, port=0)
        except BaseException:
            await asyncio.to_thread(kafka.stop)
            raise
        return cls(bootstrap=bootstrap, kafka=kafka)

    @property
    def description(self) -> str:
        if self.kafka is not None:
            return f"Apache Kafka {self.kafka.version} (KRaft, 1 node, started by the bench)"
        return f"external broker at {self.bootstrap} (version not probed)"

    def pid(self) -> int | None:
        """The broker's process, when it was started here."""
        if self.kafka is None:
            return None
        nodes = self.kafka.status().nodes
        return nodes[0].pid if nodes else None

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()


async def create_topics(bootstrap: str, prefix: str) -> NexusSettings:
    """The mesh's topics (default partitions and replication) under ``prefix``; the
    settings that name them."""
    settings = load_settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    await ensure_topics(settings, load_registry(settings.schemas_dir).domains)
    return settings
