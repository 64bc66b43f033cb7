"""What a service needs of the cluster, and what it leaves to other meshes on it."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import ConfigurationError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics, planned_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually
from service_kit import committed_offsets, running, search_request

FAST = ServiceConfig(poll_timeout_ms=100, stop_timeout_s=5.0)


def echo_service(handled: list[str]) -> Service:
    service = Service(name="echo", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.metadata.event_id)
        await ctx.reply("search.completed", {"query": event.payload["query"], "hits": []})

    return service


async def test_start_refuses_a_missing_clients_topic(settings: NexusSettings) -> None:
    # Every topic but the one all replies go to.
    clients = TopicNames(prefix=settings.topic_prefix).clients
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name=s.name, num_partitions=s.partitions, replication_factor=1)
                for s in planned_topics(settings, ["search"])
                if s.name != clients
            ]
        )
    finally:
        await admin.close()

    with pytest.raises(ConfigurationError) as refused:
        await echo_service([]).start(settings)
    assert str(refused.value) == (
        f"topic {clients} does not exist: run `nexus topics ensure` first"
    )


async def test_meshes_with_other_prefixes_on_one_cluster_use_their_own_groups(
    settings: NexusSettings,
) -> None:
    other = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}b"})
    handled: dict[str, list[str]] = {settings.topic_prefix: [], other.topic_prefix: []}
    for mesh in (settings, other):
        await ensure_topics(mesh, ["search"])
    async with (
        running(echo_service(handled[settings.topic_prefix]), settings) as first,
        running(echo_service(handled[other.topic_prefix]), other) as second,
    ):
        sent = {mesh.topic_prefix: await send_request(mesh) for mesh in (settings, other)}

        async def both_handled() -> bool:
            return all(handled[prefix] for prefix in sent)

        await eventually(both_handled, what="a request handled in each mesh")
    assert handled == {prefix: [event_id] for prefix, event_id in sent.items()}
    assert first.group_id == f"{settings.topic_prefix}.echo"
    assert second.group_id == f"{other.topic_prefix}.echo"
    # What operators see in the cluster: each mesh's progress under its own group.
    for mesh in (settings, other):
        committed = await committed_topics(mesh, f"{mesh.topic_prefix}.echo")
        assert committed == {TopicNames(prefix=mesh.topic_prefix).domain("search")}


async def send_request(settings: NexusSettings) -> str:
    codec = Codec(load_registry(settings.schemas_dir))
    request = search_request(codec, "jazz")
    event_id = request.metadata.event_id
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="test-gateway")
    await producer.start()
    try:
        await producer.send(
            request, topic=TopicNames(prefix=settings.topic_prefix).domain("search")
        )
    finally:
        await producer.stop()
    return event_id


async def committed_topics(settings: NexusSettings, group_id: str) -> set[str]:
    return {tp.topic for tp in await committed_offsets(settings, group_id)}
