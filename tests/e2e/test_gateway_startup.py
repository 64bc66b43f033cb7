"""A gateway started before its topics exist waits, not ready, and becomes ready by itself."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from mesh_processes import Mesh
from nexus_mesh.client import MeshClient
from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


async def test_gateway_waits_for_its_topics(
    kafka_bootstrap: str, settings: NexusSettings, tmp_path: Path
) -> None:
    mesh = Mesh(bootstrap=kafka_bootstrap, prefix=settings.topic_prefix, workdir=tmp_path)
    try:
        gateway = mesh.gateway(wait_ready=False)
        assert gateway.url and gateway.admin_url
        url, admin = gateway.url, gateway.admin_url

        async def alive() -> bool:
            try:
                return status(admin + "/healthz") == 200
            except OSError:
                return False

        await eventually(alive, what="the gateway's liveness endpoint")
        assert status(admin + "/readyz") == 503
        assert status(url + "/ws/A/u1") == 503, "no client is accepted before Kafka is there"
        assert gateway.process.poll() is None, "it waits instead of exiting"

        await ensure_topics(settings, load_registry(settings.schemas_dir).domains)

        async def ready() -> bool:
            return status(admin + "/readyz") == 200

        await eventually(ready, timeout=30, what="readiness once the topics exist")
        async with await MeshClient.connect(
            url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
        ) as client:
            ack = await client.emit("chat.message", {"text": "late but here"})
            assert ack.topic == f"{settings.topic_prefix}.clients"
    finally:
        mesh.close()
