"""What one span costs in this process: creating and ending it, and encoding it as OTLP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence


def span_costs(count: int = 5_000) -> tuple[float, float]:
    """Microseconds per span on this machine: create+end one producer span with the mesh's
    attributes, and OTLP-encode it (what the batch processor's thread does)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from nexus_mesh.tracing.spans import send_span, written

    kept: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    tracer = provider.get_tracer("bench")
    began = time.perf_counter()
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
    created = (time.perf_counter() - began) / count * 1e6
    began = time.perf_counter()
    for start in range(0, count, 512):
        encode_spans(kept[start : start + 512]).SerializePartialToString()
    encoded = (time.perf_counter() - began) / count * 1e6
    return created, encoded
