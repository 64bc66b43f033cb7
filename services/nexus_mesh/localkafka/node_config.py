"""A local cluster node's configuration: its properties files and its JVM command line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nexus_mesh.localkafka.distribution import KafkaDistribution
from nexus_mesh.localkafka.state import LOOPBACK, ClusterState, NodeState

# Overriding these would break how nodes find each other, where they keep data, or what
# ``status`` and ``stop`` expect: they stay the cluster's own.
RESERVED_PROPERTIES = frozenset(
    {
        "process.roles",
        "node.id",
        "controller.quorum.voters",
        "listeners",
        "advertised.listeners",
        "controller.listener.names",
        "inter.broker.listener.name",
        "listener.security.protocol.map",
        "log.dirs",
    }
)


def write_config(
    home: Path, state: ClusterState, node: NodeState, broker_properties: Mapping[str, str]
) -> None:
    """Write ``node``'s ``server.properties`` and ``log4j2.properties`` under ``home``;
    ``broker_properties`` override the defaults (not the :data:`RESERVED_PROPERTIES`)."""
    directory = node.directory(home)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    size = len(state.nodes)
    voters = ",".join(f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in state.nodes)
    internal_rf = min(3, size)
    internal_isr = min(2, size)
    settings = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": (
            f"PLAINTEXT://{LOOPBACK}:{node.broker_port},"
            f"CONTROLLER://{LOOPBACK}:{node.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{node.broker_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": directory / "data",
        # Topic creation is a command (`nexus topics ensure`), never a side effect.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "offsets.topic.num.partitions": 10,
        "offsets.topic.replication.factor": internal_rf,
        "transaction.state.log.replication.factor": internal_rf,
        "transaction.state.log.min.isr": internal_isr,
        "share.coordinator.state.topic.replication.factor": internal_rf,
        "share.coordinator.state.topic.min.isr": internal_isr,
        "group.initial.rebalance.delay.ms": 0,
        "controlled.shutdown.enable": "true",
        **broker_properties,
    }
    text = "".join(f"{key}={value}\n" for key, value in settings.items())
    node.config_path(home).write_text(text)
    (directory / "log4j2.properties").write_text(
        "rootLogger.level=INFO\n"
        "rootLogger.appenderRef.file.ref=FILE\n"
        "appender.file.type=File\n"
        "appender.file.name=FILE\n"
        f"appender.file.fileName={node.log_path(home)}\n"
        "appender.file.layout.type=PatternLayout\n"
        "appender.file.layout.pattern=[%d] %p %m (%c)%n\n"
        "logger.state.name=state.change.logger\n"
        "logger.state.level=WARN\n"
    )


def java_command(
    home: Path, distribution: KafkaDistribution, node: NodeState, heap: str
) -> list[str]:
    """The JVM command line of ``node``, up to the main class and its arguments."""
    directory = node.directory(home)
    return [
        distribution.java,
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={directory / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={directory}",
        "-cp",
        distribution.classpath,
    ]
