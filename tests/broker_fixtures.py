"""The real Apache Kafka broker, and the settings pointing at it, for tests/integration and
tests/e2e: their conftests import these fixtures; tests/unit sees none of them, so no unit test
can start a broker.

The broker is the real thing (KRaft, resolved from Maven Central by ``nexus_mesh.localkafka``),
started on loopback on free ports with its data in a temporary directory, and stopped when
the session ends. ``NEXUS_KAFKA_BOOTSTRAP_SERVERS`` points the suite at a broker you run.

A fixture imported by two conftests is two fixtures to pytest, each cached for the session on
its own: ``kafka_bootstrap`` therefore takes the broker from ``_SESSION_BROKER``, so that a run
of both directories still starts one broker, not one per directory.
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


class _SessionBroker:
    """One broker for the session: started by the first ``kafka_bootstrap`` set up, stopped
    when the last one set up is torn down."""

    def __init__(self) -> None:
        self._cluster: LocalKafka | None = None
        self._bootstrap = ""
        self._users = 0

    def acquire(self, tmp_path_factory: pytest.TempPathFactory) -> str:
        if self._cluster is None:
            cluster = LocalKafka(tmp_path_factory.mktemp("kafka"), die_with_parent=True)
            self._bootstrap = cluster.start(nodes=1, port=0)
            self._cluster = cluster
        self._users += 1
        return self._bootstrap

    def release(self) -> None:
        self._users -= 1
        if self._users == 0 and self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            cluster.stop()


_SESSION_BROKER = _SessionBroker()


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
    bootstrap = _SESSION_BROKER.acquire(tmp_path_factory)
    try:
        yield bootstrap
    finally:
        _SESSION_BROKER.release()


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
