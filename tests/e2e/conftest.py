"""End-to-end fixtures: real gateway and service processes on the session's real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mesh_processes import Mesh

from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.registry import load_registry
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
