"""Topic names and ``nexus topics ensure`` (DESIGN.md section 4).

Creating topics is an explicit command, never a side effect of producing. An existing topic
whose partition count differs from the configuration is reported, never "fixed": adding
partitions moves campaigns to other partitions and breaks ordering and resume positions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nexus_mesh.errors import KafkaUnavailableError, TopicConfigError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.settings import NexusSettings


@dataclass(frozen=True, kw_only=True)
class TopicNames:
    """The topic names of one mesh, derived from its prefix."""

    prefix: str

    @property
    def clients(self) -> str:
        return f"{self.prefix}.clients"

    @property
    def system(self) -> str:
        return f"{self.prefix}.system"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    def domain(self, domain: str) -> str:
        return f"{self.prefix}.{domain}"


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EnsureReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]


def planned_topics(settings: NexusSettings, domains: Iterable[str]) -> list[TopicSpec]:
    """Every topic the mesh needs, with the partitions and retention the settings give."""
    names = TopicNames(prefix=settings.topic_prefix)
    rf = settings.topic_replication_factor
    isr = str(settings.topic_min_insync_replicas)

    def spec(name: str, partitions: int, retention_ms: int) -> TopicSpec:
        return TopicSpec(
            name=name,
            partitions=partitions,
            replication_factor=rf,
            config={"retention.ms": str(retention_ms), "min.insync.replicas": isr},
        )

    specs = [
        spec(names.clients, settings.clients_partitions, settings.clients_retention_ms),
        spec(names.system, settings.system_partitions, settings.system_retention_ms),
        spec(names.dlq, settings.dlq_partitions, settings.dlq_retention_ms),
    ]
    reserved = {"clients", "system", "dlq"}
    for domain in sorted(set(domains) - reserved):
        specs.append(
            spec(names.domain(domain), settings.domain_partitions, settings.domain_retention_ms)
        )
    return specs


async def ensure_topics(settings: NexusSettings, domains: Iterable[str]) -> EnsureReport:
    """Create the missing topics; fail on an existing topic with other partition counts."""
    specs = planned_topics(settings, domains)
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:
        try:
            await admin.start()
        except Exception as exc:
            raise KafkaUnavailableError(
                f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}"
            ) from exc
        listed = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in listed]
        created: set[str] = set()
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=s.name,
                        num_partitions=s.partitions,
                        replication_factor=s.replication_factor,
                        topic_configs=s.config,
                    )
                    for s in missing
                ]
            )
            created = _created_topics(response)
        # A topic may exist although the broker we asked did not list it yet (another
        # `ensure` raced us, or metadata lagged): its partitions are checked like any other.
        present = [s for s in specs if s.name not in created]
        if present:
            await _check_partitions(admin, present)
        return EnsureReport(
            created=tuple(s.name for s in specs if s.name in created),
            existing=tuple(s.name for s in present),
        )
    finally:
        await admin.close()


_TOPIC_ALREADY_EXISTS = 36


def _created_topics(response: Any) -> set[str]:
    """Names the broker created; raises on any error other than "already exists"."""
    created, problems = set(), []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code == 0:
            created.add(name)
        elif code != _TOPIC_ALREADY_EXISTS:
            problems.append(f"{name}: Kafka error {code} {message or ''}".strip())
    if problems:
        raise TopicConfigError("could not create topics: " + "; ".join(problems))
    return created


async def _check_partitions(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    counts: dict[str, int] = {}
    for _attempt in range(50):
        described = await admin.describe_topics([s.name for s in specs])
        counts = {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
        if len(counts) == len(specs):
            break
        await asyncio.sleep(0.1)  # metadata of a just-created topic is still propagating
    mismatched = [
        f"{s.name} has {counts.get(s.name, 0)} partitions, configuration says {s.partitions}"
        for s in specs
        if counts.get(s.name) != s.partitions
    ]
    if mismatched:
        raise TopicConfigError(
            "existing topics differ from the configuration (left unchanged: changing "
            "partitions moves campaigns between partitions): " + "; ".join(mismatched)
        )
