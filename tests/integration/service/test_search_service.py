"""The search service over Kafka: a request on ``<prefix>.search``, one reply on clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_search.catalog import Document
from nexus_search.service import build_service
from nexus_testkit import eventually
from service_kit import gateway_producer, search_request

FAST = ServiceConfig(poll_timeout_ms=100)


class SearchClient:
    """Plays the gateway: writes requests, reads replies by correlation id."""

    def __init__(self, settings: NexusSettings, producer: EnvelopeProducer, codec: Codec) -> None:
        self.topics = TopicNames(prefix=settings.topic_prefix)
        self.producer = producer
        self.codec = codec
        self.replies: TopicTail = TopicTail(settings, self.topics.clients, 4)

    async def ask(self, campaign_id: str = "camp-1", **payload: Any) -> Envelope:
        request = search_request(self.codec, payload, campaign_id=campaign_id, user_id="alice")
        event_id = request.metadata.event_id
        await self.producer.send(request, topic=self.topics.domain("search"))

        async def reply() -> list[Envelope]:
            decoded = (self.codec.decode(r.value) for r in self.replies.records if r.value)
            return [e for e in decoded if e.metadata.correlation_id == event_id]

        (answer,) = await eventually(reply, what=f"the reply to {payload}")
        return answer


@pytest.fixture
async def client(settings: NexusSettings) -> AsyncIterator[SearchClient]:
    await ensure_topics(settings, ["search"])
    codec = Codec(load_registry(settings.schemas_dir))
    async with gateway_producer(settings, codec) as producer:
        client = SearchClient(settings, producer, codec)
        async with client.replies:
            yield client


async def start(service: Service, settings: NexusSettings) -> Service:
    await service.start(settings)
    await asyncio.wait_for(service.ready.wait(), 30)
    return service


async def test_search_round_trip_and_failures(
    client: SearchClient, settings: NexusSettings
) -> None:
    service = await start(build_service(config=FAST), settings)
    try:
        found = await client.ask(query="forgot my password", limit=3)
        empty = await client.ask(query="   ")
        stopwords = await client.ask(query="the and of")
        bad_limit = await client.ask(query="tickets", limit=0)
        nothing = await client.ask(query="xylophonequartz")
    finally:
        await service.stop()

    assert found.type == "search.completed"
    assert found.metadata.source == "search"
    assert found.metadata.connection_id == "conn-1"
    hits = found.payload["hits"]
    assert found.payload["query"] == "forgot my password"
    assert 1 <= len(hits) <= 3
    assert hits[0]["id"] == "faq-reset-password"
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert "password" in hits[0]["snippet"].lower()

    assert (empty.type, empty.payload["code"]) == ("search.failed", "empty")
    assert empty.payload["message"]
    assert (stopwords.type, stopwords.payload["code"]) == ("search.failed", "empty")
    assert (bad_limit.type, bad_limit.payload["code"]) == ("search.failed", "limit")
    assert nothing.type == "search.completed"
    assert nothing.payload["hits"] == []
    assert service.stats.dead_lettered == 0


async def test_a_campaign_sees_only_its_documents(
    client: SearchClient, settings: NexusSettings
) -> None:
    catalog = [
        Document(id="public", title="Stadium opening hours", body="Gates open at noon."),
        Document(
            id="vip",
            title="Stadium lounge hours",
            body="The lounge opens at eleven.",
            campaigns=frozenset({"camp-vip"}),
        ),
    ]
    service = await start(build_service(catalog, config=FAST), settings)
    try:
        regular = await client.ask(campaign_id="camp-1", query="stadium hours")
        vip = await client.ask(campaign_id="camp-vip", query="stadium hours")
    finally:
        await service.stop()

    assert [hit["id"] for hit in regular.payload["hits"]] == ["public"]
    assert {hit["id"] for hit in vip.payload["hits"]} == {"public", "vip"}
