"""A span at less than half the SDK's cost, for processes whose spans all go to fastotel.

The SDK's ``Span`` validates and copies every attribute into a locked ``BoundedAttributes``,
asks a ``ParentBased`` sampler for each child, and copies itself into a ``ReadableSpan`` when
it ends: ~20 us per span on this project's machines (8 us for this one), against ~150 us of
gateway work for a whole client emit that makes four spans (docs/benchmarks.md, tracing
overhead). A
:class:`LeanSpan` keeps its attributes in a plain dict, follows its parent's sampling decision
as ``ParentBased`` with its default delegates would, and is itself what the processor reads:
fastotel's ``OTLPSpanProcessor`` copies the finished span's fields into Rust and needs nothing
more than the ``ReadableSpan`` attributes.

What the SDK guarantees and a reader of the trace would notice is kept: the sampler decides
every root (and every span when it is not parent-based), ids come from the SDK's
``RandomIdGenerator``, the ``OTEL_SPAN_*``/``OTEL_ATTRIBUTE_*`` limits apply, any attribute
the mesh does not set itself goes through the SDK's own ``BoundedAttributes`` (cleaning,
truncation, eviction), an ended span ignores further changes, and status and exceptions
follow the SDK's rules. tests/unit/tracing/test_lean_spans.py runs each of these against
both. It serves only processors that read spans as ``ReadableSpan`` duck types and need no
``on_start``: :func:`nexus_mesh.tracing.setup.setup_telemetry` uses it when fastotel is the
only exporter, and the SDK's ``TracerProvider`` otherwise (``NEXUS_OTLP_PIPELINE=sdk-spans``
or ``sdk`` included).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanLimits
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes, AttributeValue

from nexus_mesh.tracing.propagation import valid_span_context
from nexus_mesh.tracing.span_limits import Limits, appended, is_valid_link

_logger = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
# (sampled, random trace id) -> the span's W3C trace flags, as the SDK sets them.
_FLAGS = {
    (sampled, random): TraceFlags(
        (TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        | (TraceFlags.RANDOM_TRACE_ID if random else 0)
    )
    for sampled in (False, True)
    for random in (False, True)
}
_NO_STATE = trace.TraceState()
_CALLER_RECORDS = (False, False)  # record_exception, set_status_on_exception


class EndedSpanProcessor(Protocol):
    """What a :class:`LeanTracerProvider` hands finished spans to (fastotel's processor)."""

    def on_end(self, span: Any) -> None: ...  # reads it as a ReadableSpan
    def force_flush(self, timeout_millis: int = 30000) -> bool: ...
    def shutdown(self) -> None: ...


class LeanSpan(trace.Span):
    """A recording span; read as a ``ReadableSpan`` by the processor once it has ended.

    What the processor reads are plain slots, not properties: fastotel reads a dozen of them
    per span, on the event loop, and a property call each showed in its copy's cost.
    ``attributes`` is the span's own dict, for processors to read, never to change.
    """

    __slots__ = (
        "_exception_flags",
        "_tracer",
        "attributes",
        "context",
        "dropped_attributes",
        "dropped_events",
        "dropped_links",
        "end_time",
        "events",
        "instrumentation_scope",
        "kind",
        "links",
        "name",
        "parent",
        "resource",
        "start_time",
        "status",
    )

    # Positional, and what every span of a tracer shares read through it: a span is made
    # several times per client event, and each keyword or slot filled costs.
    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        links: tuple[Link, ...],
        start_time: int,
        tracer: LeanTracer,
        exception_flags: tuple[bool, bool],
    ) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.attributes = attributes
        self.links = links
        self.events: tuple[Event, ...] = ()
        self.start_time = start_time
        self.end_time: int | None = None
        self.status = _UNSET
        self._tracer = tracer
        self.resource: Resource = tracer.resource
        self.instrumentation_scope: InstrumentationScope = tracer.scope
        self._exception_flags = exception_flags  # record the exception, set the status
        self.dropped_attributes = self.dropped_events = self.dropped_links = 0

    # -- the API ----------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self.end_time is None and self._tracer.limits.put(self.attributes, key, value):
            return
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self.end_time is not None:
            _logger.warning("Tried calling set_attributes on an ended span.")
            return
        # Plain values in order while they need no cleaning (what the mesh sets after the
        # start); the rest, in order, as the SDK keeps them.
        put = self._tracer.limits.put
        items = iter(attributes.items())
        for key, value in items:
            if not put(self.attributes, key, value):
                attributes = {key: value, **dict(items)}
                break
        else:
            return
        self.attributes, dropped = self._tracer.limits.span_attributes(attributes, self.attributes)
        self.dropped_attributes += dropped

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self.end_time is not None:
            _logger.warning("Tried calling add_event on an ended span.")
            return
        limits = self._tracer.limits
        event = Event(
            name,
            limits.frozen(attributes, limits.event_attributes),
            time.time_ns() if timestamp is None else timestamp,
        )
        self.events, dropped = appended(self.events, event, limits.events)
        self.dropped_events += dropped

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self.end_time is not None:
            _logger.warning("Tried calling add_link on an ended span.")
            return
        if not is_valid_link(context, attributes):
            return
        limits = self._tracer.limits
        link = Link(context, limits.frozen(attributes, limits.link_attributes))
        self.links, dropped = appended(self.links, link, limits.links)
        self.dropped_links += dropped

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.end_time is not None:
            _logger.warning("Tried calling set_status on an ended span.")
            return
        if self.status.status_code is StatusCode.OK:
            return  # OK is final
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event: dict[str, AttributeValue] = {
            "exception.type": f"{module}.{qualname}" if module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        # No lock, unlike the SDK's span: a span is made, changed and ended by one task.
        if self.end_time is not None:
            _logger.warning("Calling end() on an ended span.")
            return
        self.end_time = end_time if end_time is not None else time.time_ns()
        self._tracer.processor.on_end(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.end_time is None:
            record_exception, set_status = self._exception_flags
            if record_exception:
                self.record_exception(exc_val, escaped=True)
            if set_status:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        super().__exit__(exc_type, exc_val, exc_tb)


class LeanTracer(trace.Tracer):
    __slots__ = (
        "constant",
        "follow_parent",
        "ids",
        "limits",
        "processor",
        "random_ids",
        "resource",
        "sampler",
        "scope",
    )

    def __init__(
        self,
        *,
        sampler: Sampler,
        follow_parent: bool,
        resource: Resource,
        scope: InstrumentationScope,
        processor: EndedSpanProcessor,
        limits: Limits,
    ) -> None:
        self.sampler = sampler
        self.constant = True if sampler is ALWAYS_ON else False if sampler is ALWAYS_OFF else None
        self.follow_parent = follow_parent
        self.resource = resource
        self.scope = scope
        self.processor = processor
        self.limits = limits
        self.ids = RandomIdGenerator()
        self.random_ids = self.ids.is_trace_id_random()  # W3C flag 0x02 on new traces

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        return self._start(
            name,
            context,
            kind,
            attributes,
            tuple(links) if links else (),
            start_time,
            (record_exception, set_status_on_exception),
            False,
        )

    def start_own(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        start_time: int | None,
    ) -> trace.Span:
        """``start_span`` for the mesh's own spans (``nexus_mesh.tracing.spans``): their
        attributes are built from non-empty string keys and scalar values, so within the
        limits they are kept without a check of each; no links; the caller records
        exceptions."""
        return self._start(name, context, kind, attributes, (), start_time, _CALLER_RECORDS, True)

    def _start(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: Attributes,
        links: tuple[Link, ...],
        start_time: int | None,
        exception_flags: tuple[bool, bool],
        plain: bool,
    ) -> trace.Span:
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            state = parent.trace_state
            random_id = parent.trace_flags.random_trace_id
        else:
            parent = None
            trace_id = self.ids.generate_trace_id()
            state = _NO_STATE
            random_id = self.random_ids
        if parent is not None and self.follow_parent:
            # ParentBased with its default delegates: the parent's flag decides.
            sampled = parent.trace_flags.sampled
        elif self.constant is not None:
            sampled = self.constant  # ALWAYS_ON/ALWAYS_OFF decide without looking
        else:
            result = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
            # Only our samplers run here, and none answers RECORD_ONLY (recorded, never
            # exported): anything but a sample is a non-recording span.
            sampled = result.decision is Decision.RECORD_AND_SAMPLE
            state = result.trace_state or state
            if result.attributes is not attributes:
                plain = False
            attributes = result.attributes  # the SDK's span takes the sampler's set
        span_context = valid_span_context(
            trace_id, self.ids.generate_span_id(), False, _FLAGS[sampled, random_id], state
        )
        if not sampled:
            return trace.NonRecordingSpan(span_context)
        limits = self.limits
        kept, dropped = limits.span_attributes(attributes, plain=plain)
        kept_links, dropped_links = limits.links_of(links) if links else ((), 0)
        span = LeanSpan(
            name,
            span_context,
            parent,
            kind,
            kept,
            kept_links,
            time.time_ns() if start_time is None else start_time,
            self,
            exception_flags,
        )
        if dropped or dropped_links:
            span.dropped_attributes = dropped
            span.dropped_links = dropped_links
        return span

    # The API's own decorator (private, and what the SDK uses): unlike contextlib's, a span
    # it decorates an ``async def`` with lasts as long as the coroutine runs.
    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class DiscardSpans:
    """The processor of a provider with no exporter (``OTEL_TRACES_EXPORTER=none``): spans
    still carry context to Kafka and the logs, and go nowhere."""

    def on_end(self, span: Any) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


class LeanTracerProvider(trace.TracerProvider):
    """Tracers making :class:`LeanSpan`; ``follow_parent`` makes ``sampler`` decide roots only,
    as ``ParentBased(sampler)`` would."""

    def __init__(
        self,
        *,
        sampler: Sampler,
        follow_parent: bool,
        resource: Resource,
        processor: EndedSpanProcessor,
    ) -> None:
        self.sampler = sampler
        self.follow_parent = follow_parent
        self.resource = resource
        self.processor = processor
        self._limits = Limits(SpanLimits())
        self._stopped = False

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return LeanTracer(
            sampler=self.sampler,
            follow_parent=self.follow_parent,
            resource=self.resource,
            scope=InstrumentationScope(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            ),
            processor=self.processor,
            limits=self._limits,
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.processor.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.processor.shutdown()
