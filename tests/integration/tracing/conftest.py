"""Spans of the mesh's Kafka clients, written to the session's real broker and kept in
memory, synchronously, by a real SDK or lean provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.settings import NexusSettings
from span_capture import Spans, codec


@pytest.fixture(params=["sdk", "lean"])
def spans(request: pytest.FixtureRequest) -> Iterator[Spans]:
    """Every test of the mesh's spans runs on the SDK's spans and on the lean ones."""
    recorded = Spans(request.param)
    yield recorded
    recorded.telemetry.tracer_provider.shutdown()  # type: ignore[attr-defined]


@pytest.fixture
def topics(settings: NexusSettings) -> TopicNames:
    return TopicNames(prefix=settings.topic_prefix)


@pytest.fixture
async def producer(
    settings: NexusSettings, spans: Spans, topics: TopicNames
) -> AsyncIterator[EnvelopeProducer]:
    """The mesh's producer, traced by ``spans``, on the test's own topics."""
    await ensure_topics(settings, ["search"])
    started = EnvelopeProducer(
        settings=settings, codec=codec(), client_id="span-tests", telemetry=spans.telemetry
    )
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
