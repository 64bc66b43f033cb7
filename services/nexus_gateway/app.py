"""Build the gateway's aiohttp application: its parts, routes and Kafka lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from aiokafka.errors import KafkaError
from opentelemetry.trace import Span, Status, StatusCode

from nexus_gateway import health
from nexus_gateway.auth import Authenticator
from nexus_gateway.catchup import CatchUpReader
from nexus_gateway.connection import CLOSE_TIMEOUT_S, Connection
from nexus_gateway.delivery import Dispatcher
from nexus_gateway.drain import close_all
from nexus_gateway.flows import FlowTracker, PendingRequest
from nexus_gateway.hub import ConnectionHub
from nexus_gateway.idempotency import IdempotencyWindow, default_per_user
from nexus_gateway.ingress import Ingress
from nexus_gateway.limits import UserRateLimits
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.protocol import event_frame
from nexus_gateway.state import GATEWAY, Gateway
from nexus_gateway.websocket import websocket_handler
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata, new_event_id, now_ms
from nexus_mesh.errors import NexusError
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tasks import cancel_and_wait, finish_detached
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.propagation import trace_fields
from nexus_mesh.tracing.spans import ERROR_TYPE, OUTCOME, SENT, ws_send_span

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def build_gateway(
    settings: NexusSettings,
    registry: Registry | None = None,
    *,
    telemetry: Telemetry | None = None,
) -> Gateway:
    """The gateway's parts; ``telemetry`` traces them (default: no tracing)."""
    telemetry = telemetry or Telemetry()
    # First, as it refuses a bad key configuration: before any Kafka client exists that a
    # failed start would leave unclosed (aiokafka then logs errors about them at exit).
    authenticator = Authenticator(settings)
    registry = registry or load_registry(settings.schemas_dir)
    codec = Codec(registry)
    metrics = GatewayMetrics(flows=registry.flows.values())
    metrics.spans_dropped.track(telemetry.span_losses)
    hub = ConnectionHub()
    source = f"gateway/{settings.gateway_instance}"
    client_id = f"nexus-gateway-{settings.gateway_instance}"
    producer = EnvelopeProducer(
        settings=settings,
        codec=codec,
        client_id=client_id,
        send_timeout_s=settings.gateway_produce_timeout_s,
        telemetry=telemetry,
    )
    holder: dict[str, Gateway] = {}

    def on_timeout(request: PendingRequest) -> bool:
        return _send_timeout(holder["gateway"], request, telemetry)

    def on_delivered(envelope: Envelope, targets: list[Connection]) -> None:
        # Called for every routed record, replayed ones too, with or without a connection
        # here: a reply names its requester, which may be away or about to resume.
        meta = envelope.metadata
        if meta.correlation_id and registry.flow_for_reply(envelope.type) is not None:
            requesters = {meta.connection_id} if meta.connection_id else {t.id for t in targets}
            for connection_id in requesters:
                flows.resolve(connection_id, meta.correlation_id)

    def awaited(envelope: Envelope) -> bool:
        meta = envelope.metadata
        return bool(
            meta.correlation_id
            and meta.connection_id
            and registry.flow_for_reply(envelope.type) is not None
            and flows.owes(meta.connection_id, meta.correlation_id)
        )

    def on_answered(request: PendingRequest, waited_s: float) -> None:
        metrics.request_seconds.labels(request.flow.name).observe(waited_s)

    flows = FlowTracker(on_timeout, on_answered=on_answered)
    dispatcher = Dispatcher(
        settings=settings,
        codec=codec,
        hub=hub,
        metrics=metrics,
        on_delivered=on_delivered,
        awaited=awaited,
        client_id=client_id,
        telemetry=telemetry,
        before_relayout=producer.refresh_metadata,
    )
    metrics.consumer_lag.track(
        lambda: [(tp.topic, tp.partition, lag) for tp, lag in dispatcher.lag().items()]
    )
    gateway: Gateway
    idempotency = IdempotencyWindow(
        window_s=settings.gateway_idempotency_window_s,
        max_entries=settings.gateway_idempotency_max_entries,
        per_user=settings.gateway_idempotency_per_user
        or default_per_user(
            rate_per_s=settings.gateway_rate_per_s,
            burst=settings.gateway_rate_burst,
            window_s=settings.gateway_idempotency_window_s,
            produce_timeout_s=settings.gateway_produce_timeout_s,
        ),
        on_early_eviction=metrics.idempotency_evictions.inc,
    )
    ingress = Ingress(
        registry=registry,
        codec=codec,
        producer=producer,
        topics=TopicNames(prefix=settings.topic_prefix),
        flows=flows,
        idempotency=idempotency,
        metrics=metrics,
        source=source,
        max_event_bytes=settings.gateway_max_event_bytes,
        answer_timeout_s=settings.gateway_produce_timeout_s,
        accepting=lambda: gateway.accepting,
        telemetry=telemetry,
    )
    gateway = Gateway(
        settings=settings,
        registry=registry,
        codec=codec,
        authenticator=authenticator,
        metrics=metrics,
        hub=hub,
        flows=flows,
        producer=producer,
        dispatcher=dispatcher,
        catch_up=CatchUpReader(
            settings=settings,
            codec=codec,
            metrics=metrics,
            client_id=client_id,
            max_parallel=settings.gateway_replay_slots,
            timeout_s=settings.gateway_replay_timeout_s,
            on_delivered=on_delivered,
            telemetry=telemetry,
            idempotency=idempotency,
        ),
        ingress=ingress,
        rate_limits=UserRateLimits(
            rate=settings.gateway_rate_per_s, burst=settings.gateway_rate_burst
        ),
    )
    holder["gateway"] = gateway
    return gateway


def _send_timeout(gateway: Gateway, request: PendingRequest, telemetry: Telemetry) -> bool:
    """Answer a request nobody replied to with its flow's timeout event (section 3); False
    when its connection is not on this pod, or refused the frame.

    The event is delivered under a ``ws send`` span that is a child of the request's
    ``ws receive``, marked as an error, so the trace of a request that timed out shows where
    it ended; its metadata names that span, as any event's names the span that made it.
    """
    flow = request.flow
    gateway.metrics.flow_timeouts.labels(flow.timeout_type).inc()
    connection = gateway.hub.get(request.connection_id)
    if connection is None:
        _timeout_missed(request, telemetry)
        return False
    payload = _timeout_payload(gateway, flow.timeout_type, request)
    ident = connection.identity
    envelope = Envelope(
        type=flow.timeout_type,
        payload=payload,
        metadata=Metadata(
            event_id=new_event_id(),
            campaign_id=ident.campaign_id,
            source=f"gateway/{gateway.settings.gateway_instance}",
            time=now_ms(),
            correlation_id=request.correlation_id,
            user_id=ident.user_id,
            connection_id=ident.connection_id,
            traceparent=request.traceparent,
            tracestate=request.tracestate,
        ),
    )
    if not telemetry.enabled:
        return _deliver_timeout(gateway, connection, envelope)
    meta = envelope.metadata
    with ws_send_span(
        telemetry.tracer,
        event_type=envelope.type,
        campaign_id=meta.campaign_id,
        event_id=meta.event_id,
        targets=1,
        connection_id=connection.id,
        parent=request.context,
    ) as span:
        fields = trace_fields(span)
        if fields is not None:
            meta.traceparent, meta.tracestate = fields
        sent = _deliver_timeout(gateway, connection, envelope)
        _timed_out(span, request, sent=sent)
    # Refused (the connection is closing, or this frame overflowed it): remembered as missed,
    # so the client's resend after its resume waits again instead of hanging unanswered.
    return sent


def _timeout_missed(request: PendingRequest, telemetry: Telemetry) -> None:
    """A timeout whose client is away ends the request's trace as a ``ws send`` that
    reached nobody, so the trace says where the request stopped (the event is owed, sent
    once the client resends the request)."""
    if not telemetry.enabled:
        return
    with ws_send_span(
        telemetry.tracer,
        event_type=request.flow.timeout_type,
        campaign_id="",
        event_id="",
        targets=0,
        connection_id=request.connection_id,
        parent=request.context,
    ) as span:
        _timed_out(span, request, sent=False, away=True)


def _timed_out(span: Span, request: PendingRequest, *, sent: bool, away: bool = False) -> None:
    """As every failed span: status, error.type ("timeout", the semantic conventions' value
    for it) and whether the event reached the socket's queue."""
    if not span.is_recording():
        return
    flow = request.flow
    span.set_attributes({OUTCOME: "timeout", ERROR_TYPE: "timeout", SENT: int(sent)})
    why = f"no {flow.request} reply within {flow.timeout_ms} ms"
    if away:
        why += "; its client was away (owed when it resends the request)"
    span.set_status(Status(StatusCode.ERROR, why))


def _deliver_timeout(gateway: Gateway, connection: Connection, envelope: Envelope) -> bool:
    ident = connection.identity
    position = gateway.dispatcher.position(gateway.dispatcher.partition_of(ident.campaign_id))
    frame = event_frame(
        envelope,
        gateway.codec.payload_to_json(envelope.type, envelope.payload),
        position.encode(),
    )
    if not connection.send(frame):
        return False
    gateway.metrics.events_out.labels(envelope.type).inc()
    return True


def _timeout_payload(gateway: Gateway, type_: str, request: PendingRequest) -> dict[str, object]:
    """The timeout event carries what its schema shares with the request, plus the timeout
    (kept as the request was tracked)."""
    return gateway.codec.payload_from_json(type_, dict(request.timeout_values))


def create_app(settings: NexusSettings, *, gateway: Gateway | None = None) -> web.Application:
    gateway = gateway or build_gateway(settings)
    app = web.Application()
    app[GATEWAY] = gateway
    app.router.add_get("/ws/{campaign_id}/{user_id}", websocket_handler)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if settings.gateway_demo and STATIC_DIR.is_dir():
        app.router.add_get("/", _index)
        app.router.add_static("/static/", STATIC_DIR)
    app.cleanup_ctx.append(_kafka)
    app.on_shutdown.append(_close_connections)
    warning = gateway.authenticator.startup_warning()
    if warning:
        log.warning(warning)
    return app


def create_admin_app(gateway: Gateway) -> web.Application:
    """Operator endpoints on the admin port, sharing the public app's gateway."""
    app = web.Application()
    app[GATEWAY] = gateway
    app[health.DRAIN_TASKS] = set()
    app.cleanup_ctx.append(_drains)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/stats", health.stats)
    app.router.add_post("/drain", health.start_drain)
    return app


async def _drains(app: web.Application) -> AsyncIterator[None]:
    yield
    # A drain asked for over /drain ends within its own timeout: the pod stops after it.
    if tasks := app[health.DRAIN_TASKS]:
        await asyncio.wait(tasks)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _kafka(app: web.Application) -> AsyncIterator[None]:
    gateway = app[GATEWAY]
    # The HTTP side starts at once (liveness, metrics); Kafka is joined in the background so
    # a gateway that starts before its broker or its topics (a fresh install whose topics
    # Job runs after the pods) waits, not ready, instead of crash-looping.
    starter = asyncio.create_task(_start_kafka(gateway), name="gateway-kafka-start")
    try:
        yield
    finally:
        gateway.accepting = False
        await cancel_and_wait(starter)
        gateway.flows.cancel_all()
        try:
            await gateway.dispatcher.stop()
        finally:
            await gateway.producer.stop()


async def _start_kafka(gateway: Gateway, *, first_backoff_s: float = 0.5) -> None:
    backoff = first_backoff_s
    while True:
        try:
            await gateway.producer.start()
            await gateway.dispatcher.start()
        except (NexusError, KafkaError, OSError) as exc:
            log.warning("waiting for Kafka: %s (retrying in %.1f s)", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            continue
        gateway.kafka_started = True
        log.info("connected to Kafka; delivery running")
        return


async def _close_connections(app: web.Application) -> None:
    """Whatever a drain left open (a stop without one, or a connection that joined late),
    closed all at once, not one after another: thousands of clients would otherwise take
    thousands of seconds. Then the closes already under way in the background end."""
    gateway = app[GATEWAY]
    gateway.accepting = False
    now = time.monotonic()
    await close_all(
        list(gateway.hub),
        "gateway shutting down: reconnect and resume",
        flush_until=now + 1.0,
        deadline=now + 1.0 + CLOSE_TIMEOUT_S,
    )
    # Every connection is closed or dropped by now; what is left in the background only
    # finishes its bookkeeping.
    await finish_detached(timeout=1.0)
