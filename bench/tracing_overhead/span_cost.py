"""What one span costs in this process: creating and ending it, and getting it exported."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Tracer


@dataclass(frozen=True, kw_only=True)
class SpanCosts:
    """Microseconds of CPU per span."""

    create: float
    """Create and end a producer span with the mesh's attributes, no processor (SDK span)."""
    lean_create: float
    """The same with the mesh's lean span (``NEXUS_OTLP_PIPELINE=native``)."""
    lean_export: float
    """Create and end a lean span and hand it to fastotel, on the thread that made it."""
    sdk_encode: float
    """OTLP-encode it as the SDK's batch processor does, on a Python thread under the GIL."""
    native_export: float
    """Create and end an SDK span and hand it to fastotel, on the thread that made it."""
    native_thread: float
    """fastotel's own thread: batching, encoding and sending it."""
    native_thread_resolution: float
    """One clock tick spread over the spans: ``native_thread`` 0 means less than this."""


def _native_thread_ticks() -> int:
    """Clock ticks fastotel's export thread has used (Linux: /proc/self/task)."""
    ticks = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "fastotel-export":
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return ticks


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


def _cpu_per_span(processor: SpanProcessor | None, count: int, *, lean: bool = False) -> float:
    """CPU of this thread per span; the receiver answers on another (the event loop's)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    from nexus_mesh.tracing.lean import DiscardSpans, LeanTracerProvider

    provider: TracerProvider | LeanTracerProvider
    if lean:
        provider = LeanTracerProvider(
            sampler=ALWAYS_ON,
            follow_parent=True,
            resource=Resource.create(),
            processor=processor or DiscardSpans(),
        )
    else:
        provider = TracerProvider()
        if processor is not None:
            provider.add_span_processor(processor)
    began = time.thread_time()
    _spans(provider.get_tracer("bench"), count)
    spent = time.thread_time() - began
    provider.force_flush()
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
    _cpu_per_span(SimpleSpanProcessor(Keep()), count)  # only to collect spans to encode
    began = time.thread_time()
    for start in range(0, count, 512):
        encode_spans(kept[start : start + 512]).SerializePartialToString()
    sdk_encode = (time.thread_time() - began) / count * 1e6
    ticks = _native_thread_ticks()
    native = _cpu_per_span(OTLPSpanProcessor(endpoint=f"{endpoint}/v1/traces"), count)
    native_ticks = _native_thread_ticks() - ticks
    lean_create = _cpu_per_span(None, count, lean=True)
    lean_export = _cpu_per_span(
        OTLPSpanProcessor(endpoint=f"{endpoint}/v1/traces"), count, lean=True
    )
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    return SpanCosts(
        create=create,
        lean_create=lean_create,
        lean_export=lean_export,
        sdk_encode=sdk_encode,
        native_export=native,
        native_thread=native_ticks * tick_us / count,
        native_thread_resolution=tick_us / count,
    )
