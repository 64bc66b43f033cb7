"""A real local Apache Kafka (KRaft) for development and tests, resolved from Maven Central."""

from nexus_mesh.localkafka.cluster import AlreadyRunningError, ClusterStatus, LocalKafka, NodeExit
from nexus_mesh.localkafka.distribution import DEFAULT_KAFKA_VERSION, resolve_kafka

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "AlreadyRunningError",
    "ClusterStatus",
    "LocalKafka",
    "NodeExit",
    "resolve_kafka",
]
