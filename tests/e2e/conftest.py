"""End-to-end fixtures: real gateway and service processes on the session's real broker
(its fixtures come from ``broker_fixtures``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker_fixtures import kafka_bootstrap as kafka_bootstrap
from broker_fixtures import own_kafka as own_kafka
from broker_fixtures import settings as settings
from broker_fixtures import topic_prefix as topic_prefix
from mesh_processes import Mesh
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.settings import NexusSettings


@pytest.fixture
async def mesh(settings: NexusSettings, tmp_path: Path) -> AsyncIterator[Mesh]:
    registry = load_registry(settings.schemas_dir)
    await ensure_topics(settings, registry.domains)
    processes = Mesh(
        bootstrap=settings.kafka_bootstrap_servers, prefix=settings.topic_prefix, workdir=tmp_path
    )
    try:
        yield processes
    finally:
        processes.close()


@pytest.fixture
async def publisher(settings: NexusSettings) -> AsyncIterator[Publisher]:
    """A backend publisher, as a service would hold one, writing to the test's topics."""
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="e2e-publisher")
    await producer.start()
    try:
        yield Publisher(
            registry=registry,
            codec=codec,
            producer=producer,
            topics=TopicNames(prefix=settings.topic_prefix),
            source="e2e-test",
        )
    finally:
        await producer.stop()
