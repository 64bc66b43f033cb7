"""Topic names and ``nexus topics ensure`` (DESIGN.md section 4).

Creating topics is an explicit command, never a side effect of producing. An existing topic
whose partition count differs from the configuration is reported, never "fixed": adding
partitions moves campaigns to other partitions. ``<prefix>.clients`` and ``<prefix>.system``
must have exactly the configured count (client positions name their partitions; growing
``clients`` has its own procedure). A domain topic or the DLQ with *more* partitions than
configured was grown by an operator (``kafka-topics.sh --alter``) to spread load: it is
accepted with a warning, since partitions are never removed and the key still keeps each
campaign's records on one partition; fewer than configured is refused.
Existing topics' replication factor, retention and ``min.insync.replicas`` are read too: a
``<prefix>.clients`` keeping less than 24 h is refused (it is the recovery log clients resume
from), any other difference from the configuration is a warning, and nothing is altered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from nexus_mesh.errors import KafkaUnavailableError, TopicConfigError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.registry.model import CLIENTS_TOPIC, SYSTEM_TOPIC
from nexus_mesh.settings import NexusSettings

# How stale a Kafka client's metadata may grow (its ``metadata_max_age_ms``) in the mesh's
# producers and service consumers, instead of the clients' default five minutes: partitions
# added to a topic are written to, and a service's consumer group rebalances onto them,
# within a minute.
METADATA_MAX_AGE_MS = 60_000


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

    def of_manifest_topic(self, manifest_topic: str | None) -> str | None:
        """The Kafka topic of a manifest entry's ``topic``; None for a protocol event (no
        topic), which is never written: each caller refuses it in its own terms."""
        if manifest_topic is None:
            return None
        if manifest_topic == CLIENTS_TOPIC:
            return self.clients
        if manifest_topic == SYSTEM_TOPIC:
            return self.system
        return self.domain(manifest_topic)


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
    # Existing topics configured otherwise than the settings say: worth an operator's look,
    # not a reason to fail (see _check_configs).
    warnings: tuple[str, ...] = ()


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
            # Said, not left to the broker's default: a compacting default would keep only
            # the last record of each campaign (the key) and break every resume.
            config={
                "retention.ms": str(retention_ms),
                "min.insync.replicas": isr,
                "cleanup.policy": "delete",
            },
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
    """Create the missing topics; check the existing ones against the configuration.

    Raises :class:`TopicConfigError` when an existing topic has fewer partitions than
    configured (or another count, for ``<prefix>.clients`` and ``<prefix>.system``) or is
    ``<prefix>.clients`` keeping less than 24 h; other differences become ``warnings``.
    """
    specs = planned_topics(settings, domains)
    names = TopicNames(prefix=settings.topic_prefix)
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
        warnings: list[str] = []
        if present:
            warnings = await _check_partitions(admin, present, exact={names.clients, names.system})
            warnings += await _check_configs(admin, present, clients=names.clients)
        return EnsureReport(
            created=tuple(s.name for s in specs if s.name in created),
            existing=tuple(s.name for s in present),
            warnings=tuple(warnings),
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


async def _check_partitions(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], *, exact: set[str]
) -> list[str]:
    """Compare existing topics' partition counts and replication factors with ``specs``;
    return the warnings.

    Raises :class:`TopicConfigError` for a topic with fewer partitions than configured, or
    with another count when it is one of ``exact``. More partitions than configured on any
    other topic is a warning: an operator added them, and they are never removed.
    """
    described: dict[str, list[dict[str, Any]]] = {}
    for _attempt in range(50):
        topics = await admin.describe_topics([s.name for s in specs])
        described = {d["topic"]: d["partitions"] for d in topics if d["error_code"] == 0}
        if len(described) == len(specs):
            break
        await asyncio.sleep(0.1)  # metadata of a just-created topic is still propagating
    mismatched: list[str] = []
    warnings: list[str] = []
    for spec in specs:
        partitions = described.get(spec.name, [])
        count = len(partitions)
        if count > spec.partitions and spec.name not in exact:
            warnings.append(
                f"{spec.name} has {count} partitions, configuration says {spec.partitions} "
                "(left as it is: partitions are never removed)"
            )
        elif count != spec.partitions:
            mismatched.append(
                f"{spec.name} has {count} partitions, configuration says {spec.partitions}"
            )
        replicas = min((len(p["replicas"]) for p in partitions), default=None)
        if replicas is not None and replicas < spec.replication_factor:
            warnings.append(
                f"{spec.name}: replication factor is {replicas}, configuration says "
                f"{spec.replication_factor} (left unchanged)"
            )
    if mismatched:
        raise TopicConfigError(
            "existing topics differ from the configuration (left unchanged: changing "
            "partitions moves campaigns between partitions): " + "; ".join(mismatched)
        )
    return warnings


# DESIGN.md section 4: clients resume from <prefix>.clients, so it must keep a day at least.
MIN_CLIENTS_RETENTION_MS = 24 * 60 * 60 * 1000
_CHECKED_CONFIGS = ("retention.ms", "min.insync.replicas", "cleanup.policy")
# Read to warn about, never set by the mesh: a size bound that cuts the log before its time.
_READ_CONFIGS = (*_CHECKED_CONFIGS, "retention.bytes")
_UNKNOWN_TOPIC = 3


async def _check_configs(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], *, clients: str
) -> list[str]:
    """Compare existing topics' retention, min ISR and cleanup policy with ``specs``; return
    the warnings (a size bound on ``clients`` among them).

    Raises :class:`TopicConfigError` for a ``clients`` topic keeping less than 24 h, or
    compacted. Nothing
    is altered: a retention an operator chose may be deliberate, and the command must stay
    safe to run on every deploy.
    """
    configs, unreadable = await _describe_configs(admin, [s.name for s in specs])
    warnings = [
        f"{name}: cannot read its configuration (Kafka error {code}); "
        "retention.ms, min.insync.replicas and cleanup.policy not checked"
        for name, code in unreadable.items()
    ]
    for spec in specs:
        actual = configs.get(spec.name)
        if actual is None:
            continue
        retention = actual.get("retention.ms")
        if spec.name == clients and "compact" in actual.get("cleanup.policy", ""):
            raise TopicConfigError(
                f"{spec.name} has cleanup.policy={actual['cleanup.policy']}: compaction keeps "
                "only the last record of each campaign, so resumes would miss events (left "
                "unchanged; set it to delete, e.g. kafka-configs.sh --alter --entity-type "
                f"topics --entity-name {spec.name} --add-config cleanup.policy=delete, and run "
                "ensure again)"
            )
        size_bound = actual.get("retention.bytes", "-1")
        if spec.name == clients and size_bound not in ("-1", ""):
            warnings.append(
                f"{spec.name}: retention.bytes is {size_bound}: busy partitions may drop "
                "records before retention.ms, and resumes from before then report "
                "recovered=false (left unchanged)"
            )
        if spec.name == clients and retention is not None and _too_short(retention):
            wanted = spec.config["retention.ms"]
            raise TopicConfigError(
                f"{spec.name} has retention.ms={retention} ({_duration(retention)}): the "
                "client recovery log must keep at least 24 h (left unchanged; raise it, e.g. "
                f"kafka-configs.sh --alter --entity-type topics --entity-name {spec.name} "
                f"--add-config retention.ms={wanted}, and run ensure again)"
            )
        for key in _CHECKED_CONFIGS:
            value, wanted = actual.get(key), spec.config[key]
            if value is not None and value != wanted:
                warnings.append(
                    f"{spec.name}: {key} is {_shown(key, value)}, configuration says "
                    f"{_shown(key, wanted)} (left unchanged)"
                )
    return warnings


async def _describe_configs(
    admin: AIOKafkaAdminClient, topics: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """The checked configs of each topic, and the error code of each topic without them."""
    configs: dict[str, dict[str, str]] = {}
    errors: dict[str, int] = {}
    pending = list(topics)
    for _attempt in range(50):
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(_READ_CONFIGS))
            for name in pending
        ]
        for response in await admin.describe_configs(resources):
            for resource in response.to_object()["resources"]:
                name, code = resource["resource_name"], resource["error_code"]
                if code:
                    errors[name] = code
                    continue
                errors.pop(name, None)
                configs[name] = {
                    entry["config_names"]: entry["config_value"]
                    for entry in resource["config_entries"]
                    if entry["config_value"] is not None
                }
        pending = [name for name, code in errors.items() if code == _UNKNOWN_TOPIC]
        if not pending:
            break
        # The broker answering may not have the topic yet (created by a racing `ensure`).
        await asyncio.sleep(0.1)
    return configs, errors


def _too_short(retention_ms: str) -> bool:
    # -1 keeps records forever; anything unparsable is the broker's business, not ours.
    try:
        value = int(retention_ms)
    except ValueError:
        return False
    return value != -1 and value < MIN_CLIENTS_RETENTION_MS


def _shown(key: str, value: str) -> str:
    return f"{value} ({_duration(value)})" if key == "retention.ms" else value


def _duration(retention_ms: str) -> str:
    """``retention.ms`` for a human: 86400000 -> "1 d", -1 -> "forever"."""
    try:
        ms = int(retention_ms)
    except ValueError:
        return "unknown"
    if ms < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms / size:g} {unit}"
    return f"{ms} ms"
