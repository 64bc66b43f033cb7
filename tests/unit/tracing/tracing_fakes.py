"""Tracing under test: spans kept in memory, and a stand-in for aiokafka's producer that
acknowledges every write at once and keeps it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.lean import LeanSpan, LeanTracerProvider


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class _Metadata:
    topic: str
    partition: int
    offset: int


@dataclass
class _Cluster:
    names: set[str]

    def topics(self) -> set[str]:
        return set(self.names)


@dataclass
class _Client:
    """What the mesh's producer asks aiokafka's client: which topics exist."""

    topics: set[str]

    async def fetch_all_metadata(self) -> _Cluster:
        return _Cluster(self.topics)


@dataclass
class FakeKafkaProducer:
    sent: list[Sent] = field(default_factory=list)
    fail_with: Exception | None = None
    client: _Client = field(
        default_factory=lambda: _Client({"t.search", "t.dlq", "t.clients", "t.system"})
    )

    async def send(
        self, topic: str, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[_Metadata]:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(Sent(topic, key, value, list(headers)))
        done: asyncio.Future[_Metadata] = asyncio.get_running_loop().create_future()
        done.set_result(_Metadata(topic, 1, len(self.sent) - 1))
        return done


def codec() -> Codec:
    return Codec(load_registry(default_schemas_dir()))


def fake_producer(codec: Codec, telemetry: Telemetry) -> tuple[EnvelopeProducer, FakeKafkaProducer]:
    producer = EnvelopeProducer(
        settings=NexusSettings(auth="none"), codec=codec, client_id="test", telemetry=telemetry
    )
    fake = FakeKafkaProducer()
    producer._producer = fake  # type: ignore[assignment]
    return producer, fake


class Kept:
    """A lean provider's processor that keeps what ends, as the in-memory exporter does, and
    the calls it got."""

    def __init__(self) -> None:
        self.spans: list[LeanSpan] = []
        self.calls: list[str] = []

    def on_end(self, span: LeanSpan) -> None:
        self.spans.append(span)
        self.calls.append("end")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.calls.append("flush")
        return True

    def shutdown(self) -> None:
        self.calls.append("shutdown")


class Spans:
    """Finished spans of a real provider: the SDK's (``kind="sdk"``) or the mesh's lean one
    (``"lean"``, what ``NEXUS_OTLP_PIPELINE=native`` runs), read the same way."""

    def __init__(self, kind: str = "sdk") -> None:
        self.exporter = InMemorySpanExporter()
        self.kept = Kept()
        provider: TracerProvider | LeanTracerProvider
        if kind == "lean":
            provider = LeanTracerProvider(
                sampler=ALWAYS_ON,
                follow_parent=True,
                resource=Resource.create(),
                processor=self.kept,
            )
        else:
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.telemetry = Telemetry(provider)

    def finished(self) -> tuple[ReadableSpan, ...]:
        return (*self.exporter.get_finished_spans(), *self.kept.spans)  # type: ignore[arg-type]

    def named(self, name: str) -> ReadableSpan:
        (span,) = [s for s in self.finished() if s.name == name]
        return span
