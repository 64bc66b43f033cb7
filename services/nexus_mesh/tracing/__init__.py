"""Tracing of the mesh (DESIGN.md section 8): set-up from ``OTEL_*``, W3C context over Kafka,
and the spans of one client interaction.

A process builds one :class:`Telemetry` with :func:`setup_telemetry` and passes it to the
components it constructs (``EnvelopeProducer``, ``Service``, the gateway); each defaults to
the no-op ``Telemetry()``.
"""

from nexus_mesh.tracing.propagation import (
    context_from_headers,
    context_from_metadata,
    context_from_traceparent,
    format_traceparent,
    trace_fields,
)
from nexus_mesh.tracing.setup import (
    Telemetry,
    build_resource,
    sampler_from,
    setup_telemetry,
    span_exporters,
)

__all__ = [
    "Telemetry",
    "build_resource",
    "context_from_headers",
    "context_from_metadata",
    "context_from_traceparent",
    "format_traceparent",
    "sampler_from",
    "setup_telemetry",
    "span_exporters",
    "trace_fields",
]
