"""The Kafka topic of a manifest entry, the one mapping the gateway and services share."""

from __future__ import annotations

import pytest

from nexus_mesh.kafka.topics import TopicNames


@pytest.mark.parametrize(
    ("manifest_topic", "kafka_topic"),
    [("clients", "p.clients"), ("system", "p.system"), ("search", "p.search"), (None, None)],
)
def test_a_manifest_topic_maps_to_its_kafka_topic(
    manifest_topic: str | None, kafka_topic: str | None
) -> None:
    assert TopicNames(prefix="p").of_manifest_topic(manifest_topic) == kafka_topic
