"""Finished spans of a real tracer provider, kept in memory for a test to read: the SDK's
(with its in-memory exporter) or the mesh's lean one, read the same way."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from nexus_mesh.codec import Codec
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.lean import LeanSpan, LeanTracerProvider


def codec() -> Codec:
    return Codec(load_registry(default_schemas_dir()))


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
