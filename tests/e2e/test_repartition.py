"""Partitions added to the client-bound topic while gateways run: campaigns move to other
partitions as soon as producers refresh their metadata, so a gateway must follow, or the
clients of every moved campaign would receive nothing until it restarts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from mesh_processes import Mesh
from nexus_mesh.client import MeshClient, MeshClosedError
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings


async def read_until_closed(client: MeshClient) -> None:
    while True:
        await client.next_event(timeout=60)


async def test_partitions_added_to_the_clients_topic_reach_moved_campaigns(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"repart{uuid.uuid4().hex[:8]}"
    settings = NexusSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix, clients_partitions=2
    )
    registry = load_registry(settings.schemas_dir)
    await ensure_topics(settings, registry.domains)
    clients_topic = TopicNames(prefix=prefix).clients
    # A campaign that moves when 2 partitions become 4.
    campaign = next(
        c
        for c in (f"c{n}" for n in range(100))
        if campaign_partition(c, 2) != campaign_partition(c, 4)
    )
    mesh = Mesh(
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        workdir=tmp_path,
        env_overrides={"NEXUS_CLIENTS_PARTITIONS": "2"},
    )
    try:
        gateway = mesh.gateway()
        assert gateway.url
        async with MeshClient.connect(
            gateway.url, campaign_id=campaign, user_id="u", token=mesh.token("u", [campaign])
        ) as client:
            admin = AIOKafkaAdminClient(**client_kwargs(settings))
            await admin.start()
            try:
                await admin.create_partitions({clients_topic: NewPartitions(total_count=4)})
            finally:
                await admin.close()
            # The gateway notices within its layout check (every ~10 s) and closes the
            # connection, which joins again on the new layout.
            with pytest.raises(MeshClosedError) as closed:
                await read_until_closed(client)
            assert closed.value.close_code == 1001
            assert "partitions changed" in closed.value.reason
            async with client.resume() as again:
                # Its position names 2 partitions: what it may have missed cannot be told.
                assert again.welcome["recovered"] is False
                # A producer that knows the 4 partitions writes to the campaign's new one.
                codec = Codec(registry)
                producer = EnvelopeProducer(settings=settings, codec=codec, client_id="t")
                await producer.start()
                try:
                    written = await producer.send(
                        Envelope(
                            type="chat.message",
                            payload=codec.payload_from_json("chat.message", {"text": "moved"}),
                            metadata=Metadata(
                                event_id="after-the-move",
                                campaign_id=campaign,
                                source="test",
                                time=1,
                            ),
                        ),
                        topic=clients_topic,
                    )
                finally:
                    await producer.stop()
                assert written.partition == campaign_partition(campaign, 4)
                event = await again.next_event(timeout=30)
                assert event.metadata.get("event_id") == "after-the-move"
                # What the gateway itself acknowledges now lands on the new partition too,
                # and reaches the campaign (its producer learnt the new count first).
                ack = await again.emit("chat.message", {"text": "through the gateway"})
                assert ack.partition == campaign_partition(campaign, 4)
                echoed = await again.next_event(timeout=30)
                assert echoed.payload["text"] == "through the gateway"
    finally:
        mesh.close()
