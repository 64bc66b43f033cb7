"""What one span costs in this process: creating and ending it, and getting it exported."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Tracer


@dataclass(frozen=True, kw_only=True)
class SpanCosts:
    """Microseconds of CPU per span, all threads of this process counted."""

    create: float
    """Create and end a producer span with the mesh's attributes, no processor."""
    sdk_encode: float
    """OTLP-encode it as the SDK's batch processor does, on a Python thread under the GIL."""
    native_export: float
    """Create, end and export it through fastotel (its native thread included)."""


def _spans(tracer: Tracer, count: int) -> None:
    from nexus_mesh.tracing.spans import send_span, written

    for offset in range(count):
        with send_span(
            tracer,
            topic="nexus.search",
            key="campaign-1",
            event_type="search.requested",
            event_id=uuid.uuid4().hex,
            campaign_id="campaign-1",
        ) as span:
            written(span, partition=1, offset=offset)


def _cpu_per_span(processor: SpanProcessor | None, count: int) -> float:
    provider = TracerProvider()
    if processor is not None:
        provider.add_span_processor(processor)
    began = time.process_time()
    _spans(provider.get_tracer("bench"), count)
    provider.force_flush()
    spent = time.process_time() - began
    provider.shutdown()
    return spent / count * 1e6


def span_costs(endpoint: str, count: int = 5_000) -> SpanCosts:
    """Run in a worker thread: the native exporter posts to ``endpoint``, which this
    process's event loop must stay free to answer."""
    from fastotel import OTLPSpanProcessor
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    kept: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    create = _cpu_per_span(None, count)
    _cpu_per_span(SimpleSpanProcessor(Keep()), count)
    began = time.process_time()
    for start in range(0, count, 512):
        encode_spans(kept[start : start + 512]).SerializePartialToString()
    sdk_encode = (time.process_time() - began) / count * 1e6
    native = _cpu_per_span(OTLPSpanProcessor(endpoint=f"{endpoint}/v1/traces"), count)
    return SpanCosts(create=create, sdk_encode=sdk_encode, native_export=native)
