"""Client events in: check, stamp, write to Kafka, and answer with exactly one ack or error.

Every refusal happens before anything is written, so a rejected event never reaches Kafka
(DESIGN.md section 5). Identity fields come from the authenticated connection only.

Each client event is one ``ws receive`` span, the parent of its Kafka producer span; when the
client sent its own ``metadata.traceparent`` the span is that client span's child, so the
trace starts at the client.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aiokafka.structs import RecordMetadata
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind

from nexus_gateway.client_frame import (
    SENDER_CONNECTION_ATTRIBUTE,
    SENDER_USER_ATTRIBUTE,
    claimed_event_id,
    client_attributes,
    client_id,
    client_traceparent,
    client_tracestate,
    parse_frame,
    scanned_event_id,
)
from nexus_gateway.connection import Connection
from nexus_gateway.flows import FlowTracker, PendingRequest
from nexus_gateway.idempotency import AckRecord, IdempotencyKey, IdempotencyWindow
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.pipeline import Turn
from nexus_gateway.protocol import (
    CLIENT_FAULTS,
    ClientEventError,
    ErrorCode,
    ack_frame,
    error_frame,
)
from nexus_gateway.unwritten import unwritten
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata, new_event_id, now_ms
from nexus_mesh.errors import (
    KafkaUnavailableError,
    PayloadInvalidError,
    UnknownTypeError,
    WriteInDoubtError,
)
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.prometheus import timed_write
from nexus_mesh.registry import ClientTarget, Registry
from nexus_mesh.registry.model import CLIENTS_TOPIC
from nexus_mesh.tracing import Telemetry, context_from_traceparent, format_traceparent
from nexus_mesh.tracing.propagation import with_sampled
from nexus_mesh.tracing.spans import (
    ERROR_CODE,
    EVENT_TYPE,
    MESSAGING_MESSAGE_ID,
    WS_RECEIVE,
    record_error,
    ws_receive_span,
)
from nexus_mesh.ws_protocol import PROTOCOL_PREFIX

log = logging.getLogger(__name__)


class Ingress:
    def __init__(
        self,
        *,
        registry: Registry,
        codec: Codec,
        producer: EnvelopeProducer,
        topics: TopicNames,
        flows: FlowTracker,
        idempotency: IdempotencyWindow,
        metrics: GatewayMetrics,
        source: str,
        max_event_bytes: int,
        answer_timeout_s: float = 10.0,
        accepting: Callable[[], bool] = lambda: True,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or Telemetry()
        self._registry = registry
        self._codec = codec
        self._producer = producer
        self._topics = topics
        self._flows = flows
        self._idempotency = idempotency
        self._metrics = metrics
        self._source = source
        self._max_event_bytes = max_event_bytes
        self._answer_timeout_s = answer_timeout_s
        self._accepting = accepting
        self._timeout_fields: dict[str, frozenset[str]] = {}
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no client event is being handled (a drain's "finish in-flight")."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    @property
    def in_flight(self) -> int:
        """Client events being handled now."""
        return self._inflight

    @property
    def unconfirmed(self) -> int:
        """Writes Kafka has not settled yet, those answered ``unconfirmed`` included."""
        return self._idempotency.pending

    async def wait_settled(self, timeout: float) -> int:
        """Wait (bounded) until Kafka has settled every write answered ``unconfirmed``; how
        many are still in doubt after it."""
        await self._idempotency.wait_settled(timeout)
        return self._idempotency.pending

    async def handle(
        self,
        connection: Connection,
        raw: str | bytes,
        *,
        allowed: bool,
        retry_after_s: float = 0.0,
        turn: Turn | None = None,
    ) -> bytes:
        """Answer one client frame; ``allowed`` is False when its rate limit refused it, and
        then ``retry_after_s`` is how long until it would take one. ``turn`` is the frame's
        place in its connection's order of writes (:mod:`nexus_gateway.pipeline`)."""
        self._inflight += 1
        self._idle.clear()
        try:
            # A frame over the rate limit is not read, for its traceparent either.
            with self._receive_span(connection, raw if allowed else b"") as span:
                cause: Exception  # what the span records: the refusal, or the fault behind it
                try:
                    return await self._handle(
                        connection, raw, allowed=allowed, retry_after_s=retry_after_s, turn=turn
                    )
                except ClientEventError as error:
                    refused, cause = error, error
                except Exception as exc:
                    # A bug must cost this event its answer, not the connection: closing it
                    # would have the client reconnect and resend the same frame, in a loop.
                    refused = ClientEventError(
                        ErrorCode.INTERNAL,
                        "the gateway failed on this event (logged): it was not acknowledged",
                        claimed_event_id(raw),
                    )
                    cause = exc
                    log.exception(
                        "failed on an event of connection %s (event_id %s)",
                        connection.id,
                        refused.event_id,
                    )
                self._metrics.errors.labels(str(refused.code)).inc()
                _trace_refusal(span, refused, cause)
                return error_frame(refused, traceparent=answer_trace(span))
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    def refuse_binary(
        self, connection: Connection, data: bytes, *, allowed: bool, retry_after_s: float = 0.0
    ) -> bytes:
        """Answer a binary frame, refused unread; ``allowed`` and ``retry_after_s`` as for
        :meth:`handle`: each is a frame to answer, so the rate limit counts it."""
        if allowed:
            error = ClientEventError(
                ErrorCode.BAD_FRAME, "frames must be JSON text frames", scanned_event_id(data)
            )
        else:
            error = _rate_limited(scanned_event_id(data), retry_after_s)
        self._metrics.errors.labels(str(error.code)).inc()
        # Traced as every other refusal is, so an operator finds it; never parented on what
        # the unread frame may claim.
        with self._receive_span(connection, b"") as span:
            _trace_refusal(span, error, error)
        return error_frame(error, traceparent=answer_trace(span))

    def _receive_span(
        self, connection: Connection, raw: str | bytes
    ) -> AbstractContextManager[Span]:
        if not self._telemetry.enabled:
            return nullcontext(INVALID_SPAN)
        ident = connection.identity
        return ws_receive_span(
            self._telemetry.tracer,
            connection_id=ident.connection_id,
            campaign_id=ident.campaign_id,
            parent=self._client_context(raw),
        )

    def _client_context(self, raw: str | bytes) -> Context | None:
        """The client's span, when its frame names one in ``metadata.traceparent``."""
        # Most frames carry none: a substring search spares them a second parse.
        if isinstance(raw, str) and "traceparent" not in raw:
            return None
        if isinstance(raw, bytes) and b"traceparent" not in raw:
            return None
        if len(raw) > self._max_event_bytes:
            return None
        try:
            metadata = parse_frame(raw).get("metadata") or {}
            traceparent = client_traceparent(metadata, None)
        except ClientEventError:
            return None
        # The client's vendors' state goes on with its trace (W3C: a participant passes it).
        context = context_from_traceparent(traceparent, client_tracestate(metadata))
        sampler = self._telemetry.client_sampler
        if context is None or sampler is None:
            return context
        # The trace continues from the client's span; whether it is recorded is ours to say.
        # Drawn on a random id, not the client's: a ratio sampler decides by the id it is
        # shown, and a client choosing its trace id would choose the outcome too.
        draw = random.getrandbits(128)
        decision = sampler.should_sample(None, draw, WS_RECEIVE, SpanKind.SERVER).decision
        return with_sampled(context, decision is Decision.RECORD_AND_SAMPLE)

    async def _handle(
        self,
        connection: Connection,
        raw: str | bytes,
        *,
        allowed: bool,
        retry_after_s: float,
        turn: Turn | None,
    ) -> bytes:
        span = trace.get_current_span()
        read_at = self._flows.now()  # a request's round trip starts here, before any wait
        # Refused unread: reading a frame the client may not send would let it spend the
        # gateway's CPU past its rate limit.
        if not allowed:
            claimed = scanned_event_id(raw)
            if claimed is not None:
                span.set_attribute(MESSAGING_MESSAGE_ID, claimed)
            raise _rate_limited(claimed, retry_after_s)
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > self._max_event_bytes:
            raise ClientEventError(
                ErrorCode.TOO_LARGE,
                f"event of {size} bytes exceeds the limit of {self._max_event_bytes} bytes",
                scanned_event_id(raw),
            )
        frame = parse_frame(raw)
        metadata = frame.get("metadata") or {}
        event_id = client_id(metadata, "event_id") or new_event_id()
        claimed_type = frame["type"]
        # Before any refusal, so a refused event's span still says what it was.
        span.set_attributes(
            {
                EVENT_TYPE: claimed_type[:128] if isinstance(claimed_type, str) else "",
                MESSAGING_MESSAGE_ID: event_id,
            }
        )
        target = self._target(frame["type"], event_id)
        span.set_attribute(EVENT_TYPE, target.type)  # what it became, e.g. search.requested
        payload = self._payload(target.type, frame.get("payload", {}), event_id)
        ident = connection.identity
        key: IdempotencyKey = (ident.campaign_id, ident.user_id, event_id)
        if turn is not None and not turn.ready:
            # After the event sent before it is queued for Kafka: the campaign's order, and a
            # quick resend of that event finds it in the window. Bounded: when Kafka takes
            # no write (a full batch in an outage), each event is answered within its own
            # produce timeout of being read, not one after another.
            try:
                async with asyncio.timeout(self._answer_timeout_s):
                    await turn.wait()
            except TimeoutError:
                raise ClientEventError(
                    ErrorCode.UNAVAILABLE,
                    "the events sent before it still wait for Kafka, so it was not written: "
                    "resend it with the same event_id",
                    event_id,
                ) from None
        earlier = self._idempotency.lookup(key)
        if earlier is None and connection.replaying and self._to_whole_campaign(target):
            # A resumed connection: its replay learns which of this user's campaign events
            # the log holds already (written by a gateway since gone), and a resend of one of
            # them must get that ack, not a second record. Bounded: past it, the event is
            # written, and the connection's later events no longer wait.
            await connection.replay_done(self._answer_timeout_s)
            earlier = self._idempotency.lookup(key)
        if earlier is not None:
            # The turn is kept while the first write is in doubt: should it fail, this one
            # writes, and must still come before the events sent after it.
            try:
                # The first write may still be in doubt: wait for it, but not forever.
                record = await asyncio.wait_for(asyncio.shield(earlier), self._answer_timeout_s)
            except TimeoutError:
                raise ClientEventError(
                    ErrorCode.UNCONFIRMED,
                    "an earlier write of this event_id is still unconfirmed and may still be "
                    "written: resend the same event_id later to learn its outcome",
                    event_id,
                ) from None
            except Exception:  # noqa: S110 - the first try failed for certain: this one writes
                pass
            else:
                if target.flow is not None:
                    # The client resent a request it still waits for: if its timeout fired
                    # while it was away, the wait starts again.
                    self._flows.rearm(
                        ident.connection_id,
                        client_id(metadata, "correlation_id", event_id) or event_id,
                    )
                self._metrics.acks.inc()
                return ack_frame(
                    event_id=event_id,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    duplicate=True,
                    traceparent=answer_trace(span),
                )
        # After the resend check: a draining pod still answers a resend of what it wrote
        # (an `unavailable` would say it was not written, and the next pod writes it again).
        if not self._accepting():
            raise ClientEventError(
                ErrorCode.UNAVAILABLE, "gateway is draining: reconnect and retry", event_id
            )
        if connection.closing:
            # The socket closed while this waited (for its turn, the replay, an earlier
            # write): the answer could not reach the client, which resends after resuming,
            # perhaps on another pod, so it is not written here.
            raise ClientEventError(
                ErrorCode.UNAVAILABLE, "connection closed before it was written", event_id
            )
        envelope, topic = self._stamp(connection, target, payload, metadata, event_id)
        pending = self._idempotency.begin(key)
        request: PendingRequest | None = None
        if target.flow is not None:
            meta = envelope.metadata
            assert meta.correlation_id is not None
            request = PendingRequest(
                connection_id=ident.connection_id,
                correlation_id=meta.correlation_id,
                flow=target.flow,
                timeout_values=self._timeout_values(target, payload),
                context=context_api.get_current() if self._telemetry.enabled else None,
                traceparent=meta.traceparent,
                tracestate=meta.tracestate,
            )
            self._flows.track(request, armed=False, since=read_at)
        try:
            written = await self._send(envelope, topic, turn)
        except WriteInDoubtError as exc:
            # It may still land: keep the id reserved until the producer knows, so a resend
            # is answered from this write instead of writing a second record.
            self._idempotency.settle_later(key, pending, exc.delivery)
            if request is not None:
                self._await_request_write(request, exc.delivery)
            raise ClientEventError(
                ErrorCode.UNCONFIRMED,
                "Kafka has not confirmed the write in time and it may still be written: resend "
                "the same event_id to learn its outcome (never a new id: that writes twice)",
                event_id,
            ) from exc
        except BaseException as exc:
            # Not written, whatever the reason (or cancelled mid-write at a shutdown, when
            # nothing would settle it later): the id is freed for a retry, nothing waits for
            # a reply, and the client still gets its answer.
            if isinstance(exc, Exception):
                self._idempotency.fail(key, pending, exc)
            else:
                self._idempotency.fail(key, pending, KafkaUnavailableError(f"cancelled: {exc!r}"))
            if request is not None:
                self._flows.drop(request)
            if isinstance(exc, Exception):
                raise unwritten(exc, target.type, event_id) from exc
            raise
        record = AckRecord(topic=written.topic, partition=written.partition, offset=written.offset)
        self._idempotency.settle(key, pending, record)
        if request is not None:
            self._flows.arm(request)
        self._metrics.events_in.labels(envelope.type).inc()
        self._metrics.acks.inc()
        return ack_frame(
            event_id=event_id,
            topic=written.topic,
            partition=written.partition,
            offset=written.offset,
            traceparent=answer_trace(span),
        )

    def _await_request_write(
        self, request: PendingRequest, delivery: asyncio.Future[RecordMetadata]
    ) -> None:
        """A request whose write is in doubt waits for a reply only if the write lands."""

        def settled(done: asyncio.Future[RecordMetadata]) -> None:
            if done.cancelled() or done.exception() is not None:
                self._flows.drop(request)
            else:
                self._flows.arm(request)

        delivery.add_done_callback(settled)

    async def _send(self, envelope: Envelope, topic: str, turn: Turn | None) -> Written:
        with timed_write(self._metrics.produce_latency.labels):
            queued = turn.passed if turn is not None else None
            return await self._producer.send(envelope, topic=topic, queued=queued)

    def _timeout_values(self, target: ClientTarget, payload: dict[str, Any]) -> dict[str, object]:
        """The timeout event's payload, should the request time out: only what it needs of
        the request is kept while it waits. From the validated request, so that a field the
        client left to its schema's default has its value."""
        flow = target.flow
        assert flow is not None
        request_json = self._codec.payload_to_json(target.type, payload)
        fields = self._timeout_fields.get(flow.timeout_type)
        if fields is None:
            schema = self._registry.latest(flow.timeout_type).schema
            fields = frozenset(field["name"] for field in schema.get("fields", []))
            self._timeout_fields[flow.timeout_type] = fields
        return flow.timeout_values(fields, request_json)

    def _target(self, type_: object, event_id: str) -> ClientTarget:
        if not isinstance(type_, str) or not type_:
            raise ClientEventError(ErrorCode.BAD_FRAME, "type must be a non-empty string", event_id)
        target = self._registry.client_target(type_)
        if target is not None:
            return target
        if self._registry.get(type_) is not None or type_.startswith(PROTOCOL_PREFIX):
            raise ClientEventError(
                ErrorCode.FORBIDDEN_TYPE, f"clients may not send {type_!r}", event_id
            )
        raise ClientEventError(ErrorCode.UNKNOWN_TYPE, f"unknown event type {type_!r}", event_id)

    def _payload(self, type_: str, value: object, event_id: str) -> dict[str, Any]:
        try:
            return self._codec.payload_from_json(type_, value)
        except PayloadInvalidError as exc:
            raise ClientEventError(ErrorCode.SCHEMA_INVALID, str(exc), event_id) from None
        except UnknownTypeError as exc:
            raise ClientEventError(ErrorCode.UNKNOWN_TYPE, str(exc), event_id) from None

    def _stamp(
        self,
        connection: Connection,
        target: ClientTarget,
        payload: dict[str, Any],
        client_metadata: dict[str, Any],
        event_id: str,
    ) -> tuple[Envelope, str]:
        """The envelope to write: identity from the connection, never from the client."""
        ident = connection.identity
        attributes = client_attributes(client_metadata, event_id)
        correlation_id = client_id(client_metadata, "correlation_id", event_id)
        traceparent = client_traceparent(client_metadata, event_id)
        tracestate = client_tracestate(client_metadata) if traceparent else None
        event_type = self._registry.event(target.type)
        user_id: str | None = ident.user_id
        connection_id: str | None = ident.connection_id
        if target.flow is not None:
            correlation_id = correlation_id or event_id
        elif self._to_whole_campaign(target):
            # Delivered to the whole campaign (DESIGN.md section 6 routes on user and
            # connection), so the sender is named in attributes the client cannot forge.
            attributes[SENDER_USER_ATTRIBUTE] = ident.user_id
            attributes[SENDER_CONNECTION_ATTRIBUTE] = ident.connection_id
            user_id = connection_id = None
        topic = self._topic(event_type.topic)
        envelope = Envelope(
            type=target.type,
            payload=payload,
            metadata=Metadata(
                event_id=event_id,
                campaign_id=ident.campaign_id,
                source=self._source,
                time=now_ms(),
                correlation_id=correlation_id,
                user_id=user_id,
                connection_id=connection_id,
                traceparent=traceparent,
                tracestate=tracestate,
                attributes=attributes,
            ),
        )
        return envelope, topic

    def _to_whole_campaign(self, target: ClientTarget) -> bool:
        """An event for the whole campaign (the clients topic, no flow): written naming its
        sender, so a resume's replay can find an earlier write of it (a request goes to its
        service's topic)."""
        return target.flow is None and self._registry.event(target.type).topic == CLIENTS_TOPIC

    def _topic(self, manifest_topic: str | None) -> str:
        topic = self._topics.of_manifest_topic(manifest_topic)
        if topic is None:
            raise ClientEventError(ErrorCode.FORBIDDEN_TYPE, "protocol events cannot be sent")
        return topic


def _trace_refusal(span: Span, refused: ClientEventError, cause: Exception) -> None:
    """Every refusal carries its code; only the mesh's own trouble marks the span failed.
    A client's mistake (a bad frame, a schema, its rate) is the gateway doing its job, as a
    4xx leaves an HTTP server span unset: one misbehaving client would otherwise raise the
    error rate every alert on failed spans watches."""
    if not span.is_recording():
        return
    span.set_attribute(ERROR_CODE, str(refused.code))
    if refused.code not in CLIENT_FAULTS:
        record_error(span, cause, error_type=str(refused.code))


def answer_trace(span: Span) -> str | None:
    """The ``traceparent`` an answer names: its event's ``ws receive`` span, if sampled (an
    unsampled trace is nowhere to be found)."""
    span_context = span.get_span_context()
    if not span_context.trace_flags.sampled:
        return None
    return format_traceparent(span_context)


def _rate_limited(event_id: str | None, retry_after_s: float) -> ClientEventError:
    # Rounded up, so a client that waits exactly this long is let through.
    wait_ms = max(1, math.ceil(retry_after_s * 1000))
    return ClientEventError(
        ErrorCode.RATE_LIMITED,
        f"too many events: retry in {wait_ms} ms",
        event_id,
        retry_after_ms=wait_ms,
    )
