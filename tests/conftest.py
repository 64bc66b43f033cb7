"""Session-wide fixtures: one real Apache Kafka broker and a unique topic prefix per test.

The broker is the real thing (KRaft, resolved from Maven Central by ``nexus_mesh.localkafka``),
started on loopback on free ports with its data in a temporary directory, and stopped when
the session ends. ``NEXUS_KAFKA_BOOTSTRAP_SERVERS`` points the suite at a broker you run.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.settings import NexusSettings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("NEXUS_KAFKA_BOOTSTRAP_SERVERS")
    if external:
        # The suite creates and deletes topics and ACLs freely: never on a shared cluster.
        for server in external.split(","):
            host = server.strip().rsplit(":", 1)[0].strip("[]")
            if not _loopback(host):
                raise pytest.UsageError(
                    f"NEXUS_KAFKA_BOOTSTRAP_SERVERS names {server!r}: the tests run against "
                    "a broker on loopback only"
                )
        yield external
        return
    cluster = LocalKafka(tmp_path_factory.mktemp("kafka"), die_with_parent=True)
    bootstrap = cluster.start(nodes=1, port=0)
    try:
        yield bootstrap
    finally:
        cluster.stop()


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[tuple[LocalKafka, str]]:
    """A single-broker cluster of the test's own, for tests that stop or pause the broker:
    the session's broker serves every other test."""
    cluster = LocalKafka(tmp_path / "kafka", die_with_parent=True)
    bootstrap = cluster.start(nodes=1, port=0)
    try:
        yield cluster, bootstrap
    finally:
        cluster.stop()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, so no test ever sees another's records."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str) -> NexusSettings:
    return NexusSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        clients_partitions=4,
        domain_partitions=2,
        dlq_partitions=1,
        auth="none",
    )


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
