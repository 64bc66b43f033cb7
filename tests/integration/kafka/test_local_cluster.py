"""The local broker commands as a developer uses them, and a 3-node cluster surviving a crash."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.cluster import free_port
from nexus_testkit import eventually

NEXUS = [sys.executable, "-m", "nexus_mesh.cli"]


def nexus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEXUS, *args], capture_output=True, text=True, timeout=180, env=env, check=False
    )


def test_start_status_stop_from_a_shell(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "kafka"
    started = nexus("kafka", "start", "--port", str(port), "--data-dir", str(home))
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"

        again = nexus("kafka", "start", "--port", str(port), "--data-dir", str(home))
        assert again.returncode == 0
        assert "already running" in again.stderr
        assert again.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"
        assert len([n for n in LocalKafka(home).status().nodes if n.running]) == 1
        # Another layout is not "already running": it is refused, naming what runs there.
        for other in (["--nodes", "3"], ["--port", str(free_port())]):
            refused = nexus("kafka", "start", *other, "--data-dir", str(home))
            assert refused.returncode != 0, (other, refused.stdout)
            assert f"1-node cluster on 127.0.0.1:{port}" in refused.stderr
            assert refused.stdout == ""

        status = nexus("kafka", "status", "--data-dir", str(home))
        assert status.returncode == 0
        assert "running" in status.stdout
        assert str(home / "node-1" / "broker.log") in status.stdout
        assert (home / "node-1" / "broker.log").stat().st_size > 0
    finally:
        stopped = nexus("kafka", "stop", "--data-dir", str(home))
    assert stopped.returncode == 0
    assert "stopped node(s) 1" in stopped.stdout
    after = nexus("kafka", "status", "--data-dir", str(home))
    assert after.returncode == 3
    assert "stopped" in after.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the broker still listens after stop"


def test_restart_without_port_reuses_the_ports_port_zero_picked(tmp_path: Path) -> None:
    home = tmp_path / "kafka"
    first = nexus("kafka", "start", "--port", "0", "--data-dir", str(home))
    try:
        assert first.returncode == 0, first.stderr
        bootstrap = first.stdout.strip().splitlines()[-1]
        assert nexus("kafka", "stop", "--data-dir", str(home)).returncode == 0

        again = nexus("kafka", "start", "--data-dir", str(home))
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip().splitlines()[-1] == bootstrap
        assert nexus("kafka", "status", "--data-dir", str(home)).returncode == 0
    finally:
        nexus("kafka", "stop", "--data-dir", str(home))


def test_stop_leaves_other_processes_alone(tmp_path: Path) -> None:
    """A stale state file naming some other live process must not get that process killed."""
    home = tmp_path / "kafka"
    home.mkdir()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (home / "cluster.json").write_text(
            '{"cluster_id": "x", "version": "4.0.2", "nodes": [{"node_id": 1, '
            f'"broker_port": 1, "controller_port": 2, "pid": {bystander.pid}, "started": 1}}]}}'
        )
        result = nexus("kafka", "stop", "--data-dir", str(home))
        assert result.returncode == 0
        assert "no local Kafka running" in result.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = nexus("kafka", "start", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _path_with_only(tmp_path: Path, *tools: str) -> dict[str, str]:
    """An environment whose PATH holds only the named tools (plus nothing else)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on this machine for the test"
        (bin_dir / tool).symlink_to(found)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(bin_dir)
    return env


def test_missing_java_is_a_clear_error(tmp_path: Path) -> None:
    result = nexus("kafka", "start", "--data-dir", str(tmp_path), env=_path_with_only(tmp_path))
    assert result.returncode == 1
    assert "java not found" in result.stderr


def test_missing_maven_is_a_clear_error(tmp_path: Path) -> None:
    env = _path_with_only(tmp_path, "java")
    env["NEXUS_KAFKA_CACHE_DIR"] = str(tmp_path / "empty-cache")
    result = nexus("kafka", "start", "--data-dir", str(tmp_path / "k"), env=env)
    assert result.returncode == 1
    assert "mvn not found" in result.stderr


def test_failed_download_is_a_clear_error(tmp_path: Path) -> None:
    """Maven's reason reaches the user in one line. Maven is pointed at a mirror on a closed
    loopback port (a settings.xml in a home of its own), so the test needs no network."""
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>loopback</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{free_port()}/maven2</url></mirror></mirrors></settings>"
    )
    env = dict(
        os.environ,
        NEXUS_KAFKA_CACHE_DIR=str(tmp_path / "cache"),
        MAVEN_OPTS=f"-Duser.home={home}",
    )
    result = nexus(
        "kafka", "start", "--version", "0.0.404", "--data-dir", str(tmp_path / "k"), env=env
    )
    assert result.returncode == 1
    announced, line = result.stderr.strip().splitlines()
    assert announced.startswith("downloading org.apache.kafka:kafka_2.13:0.0.404 with Maven")
    assert "could not download org.apache.kafka:kafka_2.13:0.0.404 with Maven: " in line
    reason = line.split(" with Maven: ", 1)[1]
    assert "127.0.0.1" in reason, "Maven's own reason, naming the repository it tried"
    assert "\x1b" not in line, "no terminal colour codes"


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[tuple[LocalKafka, str]]:
    cluster = LocalKafka(tmp_path / "cluster", heap="384m", die_with_parent=True)
    bootstrap = cluster.start(nodes=3, port=0, timeout=120)
    try:
        yield cluster, bootstrap
    finally:
        cluster.stop()


@pytest.mark.slow
async def test_three_node_cluster_survives_a_broker_crash(
    three_nodes: tuple[LocalKafka, str],
) -> None:
    cluster, bootstrap = three_nodes
    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 3, topic_configs={"min.insync.replicas": "2"})]
        )

        async def described_with_leader() -> list[Any] | None:
            # Metadata of a new topic reaches every broker a moment after the create.
            found = await admin.describe_topics([topic])
            partitions = found[0]["partitions"] if found else []
            return found if partitions and partitions[0]["leader"] >= 0 else None

        described = await eventually(described_with_leader, what="the new topic's metadata")
    finally:
        await admin.close()
    assert sorted(described[0]["partitions"][0]["replicas"]) == [1, 2, 3]
    leader = described[0]["partitions"][0]["leader"]

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=10000
    )
    await producer.start()
    try:
        before = [
            await producer.send_and_wait(topic, f"before-{i}".encode(), key=b"k") for i in range(3)
        ]
        # Kill the partition leader: the hardest broker to lose.
        await asyncio.to_thread(cluster.kill_node, leader)
        assert not next(n for n in cluster.status().nodes if n.node_id == leader).running
        after = []
        for i in range(3):
            after.append(
                await asyncio.wait_for(
                    producer.send_and_wait(topic, f"after-{i}".encode(), key=b"k"), 60
                )
            )
    finally:
        await producer.stop()
    assert [m.offset for m in before + after] == list(range(6))

    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, 0)
        values: list[bytes] = []
        while len(values) < 6:
            batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=1000), 30)
            values.extend(r.value for r in batch.get(partition, []))
    finally:
        await consumer.stop()
    assert values == [f"before-{i}".encode() for i in range(3)] + [
        f"after-{i}".encode() for i in range(3)
    ]


async def _brokers_seen_from(address: str) -> int:
    """How many brokers ``address`` itself lists in a metadata answer."""
    admin = AIOKafkaAdminClient(bootstrap_servers=address, request_timeout_ms=5000)
    try:
        # Bootstrapping from this one address fails unless that very broker answers.
        await asyncio.wait_for(admin.start(), 10)
        described = await asyncio.wait_for(admin.describe_cluster(), 10)
    finally:
        await admin.close()
    return len(described["brokers"])


@pytest.mark.slow
async def test_start_brings_back_the_dead_node_of_a_running_cluster(
    three_nodes: tuple[LocalKafka, str],
) -> None:
    cluster, bootstrap = three_nodes
    home = str(cluster.home)
    await asyncio.to_thread(cluster.kill_node, 2)

    degraded = await asyncio.to_thread(nexus, "kafka", "status", "--data-dir", home)
    assert degraded.returncode != 0
    assert "node 2: " in degraded.stdout and " stopped;" in degraded.stdout
    assert f"node(s) 2 of 3 stopped; `nexus kafka start --data-dir {home}`" in degraded.stderr

    # No --port and no --nodes: the cluster was started on free ports, and they are reused.
    started = await asyncio.to_thread(nexus, "kafka", "start", "--data-dir", home)
    assert started.returncode == 0, started.stderr
    assert "restarted node(s) 2" in started.stderr
    assert started.stdout.strip().splitlines()[-1] == bootstrap
    # `start` returns once the node answers: asked right away, with no retry.
    node_2 = next(n for n in cluster.status().nodes if n.node_id == 2)
    assert await _brokers_seen_from(node_2.bootstrap) >= 1
    # `start` also waited for every node to list all three, but Kafka may still leave a
    # broker out of the metadata for a moment after (seen once in CI, on a loaded machine:
    # 2 right after `start`), so the whole cluster is awaited here.

    async def whole() -> bool:
        return await _brokers_seen_from(node_2.bootstrap) == 3

    await eventually(whole, what="node 2 to list all three brokers")

    healthy = await asyncio.to_thread(nexus, "kafka", "status", "--data-dir", home)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "stopped" not in healthy.stdout
