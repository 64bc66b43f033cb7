"""The partition a gateway listens on is the partition producers write a campaign to."""

from __future__ import annotations

import re
from pathlib import Path

from aiokafka import AIOKafkaProducer

from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.settings import NexusSettings


async def test_campaign_partition_matches_the_producer(settings: NexusSettings) -> None:
    await ensure_topics(settings, [])
    topic = TopicNames(prefix=settings.topic_prefix).clients
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all")
    await producer.start()
    try:
        campaigns = [f"campaign-{i}" for i in range(40)] + ["A", "B", "acme", "démo"]
        for campaign in campaigns:
            written = await producer.send_and_wait(topic, b"x", key=campaign.encode())
            assert written.partition == campaign_partition(campaign, settings.clients_partitions), (
                campaign
            )
    finally:
        await producer.stop()


def test_the_readme_s_partition_table_is_what_the_mesh_computes(repo_root: Path) -> None:
    """Service authors in other languages check their partitioner against that table."""
    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| (\d+) \|$", readme, flags=re.MULTILINE)
    assert len(rows) >= 4
    for campaign, of_12, of_6 in rows:
        assert (campaign_partition(campaign, 12), campaign_partition(campaign, 6)) == (
            int(of_12),
            int(of_6),
        ), campaign
