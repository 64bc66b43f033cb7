"""The spans of one interaction (DESIGN.md section 8) and their attributes.

``ws receive`` (gateway, per client event) -> ``send <topic>`` (producer) -> ``process
<topic>`` (service) -> ``send <prefix>.clients`` (reply) -> ``process <prefix>.clients``
(gateway) -> ``ws send``. Kafka spans follow the OpenTelemetry messaging conventions as
shipped in ``opentelemetry-semantic-conventions`` 0.5x: ``messaging.operation.type`` (with
the required ``messaging.operation.name``) rather than the older ``messaging.operation``, the
partition as the string ``messaging.destination.partition.id`` and ``messaging.kafka.offset``
rather than the deprecated ``messaging.kafka.destination.partition`` /
``messaging.kafka.message.offset``.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from nexus_mesh.logs import redact
from nexus_mesh.tracing.lean import LeanTracer

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION = "messaging.destination.name"
MESSAGING_PARTITION = "messaging.destination.partition.id"
MESSAGING_OFFSET = "messaging.kafka.offset"
MESSAGING_KEY = "messaging.kafka.message.key"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CONSUMER_GROUP = "messaging.consumer.group.name"
ERROR_TYPE = "error.type"
NETWORK_PROTOCOL = "network.protocol.name"

EVENT_TYPE = "nexus.event.type"
CAMPAIGN = "nexus.campaign.id"
CONNECTION = "nexus.connection.id"
OUTCOME = "nexus.outcome"
ERROR_CODE = "nexus.error.code"
TARGETS = "nexus.delivery.targets"
SENT = "nexus.delivery.sent"
DROPPED = "nexus.delivery.dropped"
REPLAY = "nexus.delivery.replay"

KAFKA = "kafka"
WS_RECEIVE = "ws receive"
WS_SEND = "ws send"

Attributes = dict[str, AttributeValue]
_Optional = dict[str, AttributeValue | None]


class _Current(AbstractContextManager[Span]):
    """A new span, current while the block runs, ended after it.

    Hand-written rather than ``start_as_current_span``: that nests two generator-based
    context managers per span, a cost every client event pays several times over. A lean
    tracer takes the span's attributes as the helpers below build them (non-empty string
    keys, scalar values) without a check of each. An escaping exception gets ``error.type``
    as well as the exception event; a cancelled task is a shutdown, not a failure, so its
    span keeps an unset status.
    """

    __slots__ = ("_span", "_token")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: Attributes,
        start_time: int | None = None,
        links: Sequence[Link] = (),
    ) -> None:
        if type(tracer) is LeanTracer and not links:
            self._span = tracer.start_own(name, context, kind, attributes, start_time)
        else:
            self._span = tracer.start_span(
                name, context, kind, attributes, links or None, start_time, False, False
            )
        self._token: object = None

    def __enter__(self) -> Span:
        self._token = context_api.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        context_api.detach(self._token)  # type: ignore[arg-type]
        if isinstance(error, Exception):
            record_error(self._span, error)
        self._span.end()


def _present(attributes: _Optional) -> Attributes:
    """``attributes`` without the ones the caller had no value for (None or empty).

    The helpers below build their dict whole and call this only when an optional value is
    missing: a client event makes four spans, and a call per attribute showed in its cost.
    """
    return {name: value for name, value in attributes.items() if value is not None and value != ""}


def send_span(
    tracer: trace.Tracer,
    *,
    topic: str,
    key: str | None,
    event_type: str | None,
    event_id: str | None,
    campaign_id: str | None,
    parent: Context | None = None,
) -> AbstractContextManager[Span]:
    """The producer span of one record; current while the write is in flight."""
    attributes: _Optional = {
        EVENT_TYPE: event_type,
        CAMPAIGN: campaign_id,
        MESSAGING_MESSAGE_ID: event_id,
        MESSAGING_SYSTEM: KAFKA,
        MESSAGING_OPERATION_TYPE: "send",
        MESSAGING_OPERATION_NAME: "send",
        MESSAGING_DESTINATION: topic,
        MESSAGING_KEY: key,
    }
    if not (event_type and campaign_id and event_id and key):
        return _Current(tracer, f"send {topic}", parent, SpanKind.PRODUCER, _present(attributes))
    return _Current(tracer, f"send {topic}", parent, SpanKind.PRODUCER, attributes)


def written(span: Span, *, partition: int, offset: int) -> None:
    """Where Kafka stored the record: known only once it acknowledged the write."""
    if span.is_recording():
        span.set_attribute(MESSAGING_PARTITION, str(partition))
        span.set_attribute(MESSAGING_OFFSET, offset)


def process_span(
    tracer: trace.Tracer,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: str | None,
    event_type: str | None,
    event_id: str | None,
    campaign_id: str | None,
    consumer_group: str | None = None,
    parent: Context | None = None,
    links: Sequence[Link] = (),
    start_time: int | None = None,
) -> AbstractContextManager[Span]:
    """The consumer span of one record: a child of its producer span (``parent``).

    Records are handled one at a time, so the producer's context is the true parent; a
    caller that handles a batch as one unit passes the records' contexts as ``links``.
    """
    attributes: _Optional = {
        EVENT_TYPE: event_type,
        CAMPAIGN: campaign_id,
        MESSAGING_MESSAGE_ID: event_id,
        MESSAGING_SYSTEM: KAFKA,
        MESSAGING_OPERATION_TYPE: "process",
        MESSAGING_OPERATION_NAME: "process",
        MESSAGING_DESTINATION: topic,
        MESSAGING_PARTITION: str(partition),
        MESSAGING_OFFSET: offset,
        MESSAGING_KEY: key,
        MESSAGING_CONSUMER_GROUP: consumer_group,
    }
    if not (event_type and campaign_id and event_id and key and consumer_group):
        kept = _present(attributes)
    else:
        kept = attributes
    return _Current(tracer, f"process {topic}", parent, SpanKind.CONSUMER, kept, start_time, links)


def ws_receive_span(
    tracer: trace.Tracer,
    *,
    connection_id: str,
    campaign_id: str,
    parent: Context | None = None,
    start_time: int | None = None,
) -> AbstractContextManager[Span]:
    """The gateway's span of one client event, from frame to ack or error.

    A request/response exchange over the socket (event in, ``nexus.ack`` out), hence a
    SERVER span; its parent is the client's span when the client sent a ``traceparent``.
    """
    attributes: Attributes = {NETWORK_PROTOCOL: "websocket", CONNECTION: connection_id}
    if campaign_id:
        attributes[CAMPAIGN] = campaign_id
    return _Current(tracer, WS_RECEIVE, parent, SpanKind.SERVER, attributes, start_time)


def ws_send_span(
    tracer: trace.Tracer,
    *,
    event_type: str,
    campaign_id: str,
    event_id: str,
    targets: int,
    connection_id: str | None = None,
    parent: Context | None = None,
) -> AbstractContextManager[Span]:
    """Handing one event's frame to its target connections (a one-way push: PRODUCER).

    The parent is the current span (the consumer span of the record being delivered) unless
    ``parent`` names another, as for an event the gateway makes itself.
    """
    attributes: _Optional = {
        EVENT_TYPE: event_type,
        CAMPAIGN: campaign_id,
        MESSAGING_MESSAGE_ID: event_id,
        NETWORK_PROTOCOL: "websocket",
        TARGETS: targets,
        CONNECTION: connection_id,
    }
    if not (event_type and campaign_id and event_id and connection_id):
        return _Current(tracer, WS_SEND, parent, SpanKind.PRODUCER, _present(attributes))
    return _Current(tracer, WS_SEND, parent, SpanKind.PRODUCER, attributes)


def record_error(span: Span, error: BaseException, *, error_type: str | None = None) -> None:
    """Mark ``span`` failed: ERROR status, ``error.type`` and an exception event."""
    if not span.is_recording():
        return
    # Spans leave for a trace backend as logs do: the same credentials are masked.
    message = redact(str(error))
    span.record_exception(
        error,
        attributes={
            "exception.message": message,
            "exception.stacktrace": redact("".join(traceback.format_exception(error))),
        },
    )
    span.set_attribute(ERROR_TYPE, error_type or _qualified_name(type(error)))
    span.set_status(Status(StatusCode.ERROR, message[:256] or type(error).__name__))


def _qualified_name(cls: type) -> str:
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
