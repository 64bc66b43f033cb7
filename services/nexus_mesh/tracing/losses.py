"""Spans a process made that no trace backend will show, counted by why.

A trace missing in the viewer is otherwise indistinguishable from one never sampled: the
counts here let an operator tell a full queue or an unreachable collector from sampling
(``nexus_gateway_spans_dropped_total`` and ``nexus_service_spans_dropped_total``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nexus_mesh.tracing.handoff import BatchedHandOff

SpanLosses = Callable[[], Mapping[str, int]]
"""Spans lost so far, by reason: ``queue_full`` (ended while the export queue was full, or
after shutdown began), ``export_failed`` (the collector could not be reached in time, after
retries), ``rejected`` (the collector refused them). A pipeline that cannot count a reason
leaves it out."""

REASONS = ("queue_full", "export_failed", "rejected")


def no_losses() -> Mapping[str, int]:
    """For tracing off, and for pipelines that count nothing (the SDK's batch processor)."""
    return {}


def pipeline_losses(processor: object) -> SpanLosses:
    """The losses of ``processor``: the mesh's hand-off to fastotel, or fastotel's own
    processor (``NEXUS_OTLP_PIPELINE=sdk-spans``)."""
    handoff = processor if isinstance(processor, BatchedHandOff) else None
    exporter = handoff.processor if handoff is not None else processor
    # fastotel's native half keeps the counts its Python wrapper does not expose.
    native = getattr(exporter, "_native", None)
    if native is not None and not all(
        callable(getattr(native, name, None))
        for name in ("dropped_spans", "failed_spans", "rejected_spans")
    ):
        native = None

    def losses() -> Mapping[str, int]:
        counts = {"queue_full": handoff.dropped if handoff is not None else 0}
        if native is not None:
            counts["queue_full"] += int(native.dropped_spans())
            counts["export_failed"] = int(native.failed_spans())
            counts["rejected"] = int(native.rejected_spans())
        return counts

    return losses
