"""A real OTLP/HTTP trace receiver for tests: ``POST /v1/traces`` on 127.0.0.1.

It decodes each ``ExportTraceServiceRequest`` with ``opentelemetry-proto`` exactly as a
collector would, and keeps the spans with their service name, ids and attributes. Every
POST is recorded with its path and headers, one to another path too (answered 404 as a
collector would), so a test can say where an exporter sent its spans and what it sent along.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status: str
    events: tuple[str, ...]
    links: tuple[str, ...]
    resource: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    scope: str = field(default="", compare=False, repr=False)
    decoded: ProtoSpan = field(default_factory=ProtoSpan, compare=False, repr=False)
    """The span as decoded, every field of it."""


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    """By lower-case name."""


@dataclass
class OtlpReceiver:
    url: str = ""
    path: str = "/v1/traces"
    """Where the spans are taken; a POST elsewhere is recorded and answered 404."""
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    """Exports taken at :attr:`path`."""
    received: list[ReceivedRequest] = field(default_factory=list)
    """Every POST, wherever it went."""

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]

    def named(self, trace_id: str, name: str) -> list[ReceivedSpan]:
        return [span for span in self.trace(trace_id) if span.name == name]

    async def _export(self, request: web.Request) -> web.Response:
        self.received.append(
            ReceivedRequest(
                path=request.path,
                headers={name.lower(): value for name, value in request.headers.items()},
            )
        )
        if request.path != self.path:
            return web.Response(status=404, text=f"spans are taken at {self.path}")
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415, text="protobuf only")
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        self.requests += 1
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(_received(resource, scope_spans.scope.name, span))
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


def _received(resource: dict[str, Any], scope: str, span: ProtoSpan) -> ReceivedSpan:
    return ReceivedSpan(
        service=str(resource.get("service.name")),
        name=span.name,
        kind=ProtoSpan.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={a.key: _value(a.value) for a in span.attributes},
        status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
        events=tuple(event.name for event in span.events),
        links=tuple(link.span_id.hex() for link in span.links),
        resource=resource,
        scope=scope,
        decoded=span,
    )


@asynccontextmanager
async def otlp_receiver(path: str = "/v1/traces") -> AsyncIterator[OtlpReceiver]:
    """A receiver taking spans at ``path`` (a collector's default: ``/v1/traces``)."""
    receiver = OtlpReceiver(path=path)
    app = web.Application()
    app.router.add_post("/{path:.*}", receiver._export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
