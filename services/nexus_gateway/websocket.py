"""The ``/ws/{campaign_id}/{user_id}`` endpoint: authenticate, welcome, then serve the socket."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from aiohttp import WSCloseCode, WSMsgType, web

from nexus_gateway.auth import AuthError, Principal
from nexus_gateway.catchup import CatchUp, ReplayUnfinishedError, describe_error
from nexus_gateway.connection import CLOSE_TIMEOUT_S, Connection, Identity
from nexus_gateway.metrics import ORIGIN_REFUSED
from nexus_gateway.pipeline import EventPipeline
from nexus_gateway.protocol import (
    CloseCode,
    new_connection_id,
    owns_connection_id,
    welcome_frame,
)
from nexus_gateway.state import GATEWAY, Gateway
from nexus_mesh.envelope import PATH_ID_RE, REFUSAL_HEADER
from nexus_mesh.position import Position
from nexus_mesh.tasks import cancel_and_wait, run_detached

log = logging.getLogger(__name__)
# A refused handshake's socket: what it may read, and how long it waits for the close reply.
_REFUSED_MAX_BYTES = 1024
_REFUSED_CLOSE_WAIT_S = 1.0
# How long an expired token's connection may take to hand out the answers it owes.
EXPIRY_FLUSH_S = 2.0


class GatewaySocket(web.WebSocketResponse):
    """A client's WebSocket, which knows the close code its session ended with.

    For the access log, where a refused handshake would otherwise read like an accepted one
    (both are 101): aiohttp's own ``close_code`` is the peer's reply when the gateway closed
    first, which may be any code (aiohttp's client answers 1000).
    """

    ended_with: int | None = None


def _refused(kind: type[web.HTTPException], reason: str) -> web.HTTPException:
    """A refused handshake, its reason in the body and in the ``Nexus-Refusal`` header."""
    return kind(text=reason, headers={REFUSAL_HEADER: reason})


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    campaign_id = request.match_info["campaign_id"]
    user_id = request.match_info["user_id"]
    if not (PATH_ID_RE.fullmatch(campaign_id) and PATH_ID_RE.fullmatch(user_id)):
        raise _refused(web.HTTPBadRequest, "campaign and user ids: 1-128 of letters, digits, ._:@-")
    origins = gateway.settings.gateway_allowed_origins
    origin = request.headers.get("Origin")
    if origins and origin is not None and origin.lower() not in origins:
        gateway.metrics.auth_failures.labels(ORIGIN_REFUSED, ORIGIN_REFUSED).inc()
        log.info("refused %s/%s: origin %r is not allowed", campaign_id, user_id, origin[:200])
        raise _refused(web.HTTPForbidden, "this origin may not open a connection")
    if not gateway.accepting:
        raise _refused(web.HTTPServiceUnavailable, "gateway is draining")
    if not gateway.kafka_started:
        raise _refused(web.HTTPServiceUnavailable, "gateway is not connected to Kafka yet")
    try:
        principal = gateway.authenticator.authenticate(
            campaign_id=campaign_id,
            user_id=user_id,
            headers=request.headers,
            query=request.query,
        )
    except AuthError as denied:
        gateway.metrics.auth_failures.labels(str(denied.close_code), denied.kind).inc()
        # The reason is public and never holds the token: what an operator needs to answer
        # "why is this client refused?". Held back per kind of refusal (a fixed set, never
        # the user id, which anyone may vary): a flood of one kind does not hide another.
        log.info(
            "refused %s/%s with %d (%s): %s",
            campaign_id,
            user_id,
            denied.close_code,
            denied.kind,
            denied.reason,
            extra={"repeat_key": denied.kind},
        )
        # Close codes exist only after the handshake, so accept it, then close with the code.
        # Nobody authenticated holds this socket: no compression to inflate, nothing larger
        # than a close reply read, and a second at most waiting for that reply (aiohttp's
        # defaults held each refused client 10 s and up to 4 MiB).
        refused = GatewaySocket(
            protocols=[denied.token_subprotocol] if denied.token_subprotocol else (),
            compress=False,
            max_msg_size=_REFUSED_MAX_BYTES,
            timeout=_REFUSED_CLOSE_WAIT_S,
        )
        await refused.prepare(request)
        await refused.close(code=denied.close_code, message=denied.reason.encode()[:120])
        # A connection ended with 4001/4003 like any other, so connection_closes_total
        # holds every 4001 the clients saw, not only the expired tokens'.
        refused.ended_with = denied.close_code
        gateway.metrics.count_close(denied.close_code)
        return refused

    return await _serve(request, gateway, principal, campaign_id, user_id)


async def _serve(
    request: web.Request, gateway: Gateway, principal: Principal, campaign_id: str, user_id: str
) -> web.StreamResponse:
    """The session of an authenticated connection, from the upgrade to its close."""
    settings = gateway.settings
    ws = GatewaySocket(
        protocols=[principal.token_subprotocol] if principal.token_subprotocol else (),
        max_msg_size=settings.gateway_max_frame_bytes,
        heartbeat=settings.gateway_heartbeat_s,
        compress=False,
        # aiohttp's own wait for the client's close reply: never shorter than the close
        # windows of Connection.close, which bound it themselves.
        timeout=max(CLOSE_TIMEOUT_S, settings.gateway_slow_close_s),
        # Text frames reach the ingress as bytes: invalid UTF-8 is then a bad_frame answer
        # from the JSON parser, where aiohttp's decoding would close the socket with 1007.
        decode_text=False,
    )
    await ws.prepare(request)
    since = _since(request)
    connection = Connection(
        identity=Identity(
            connection_id=await _take_connection_id(
                request, gateway, campaign_id, user_id, resuming=since is not None
            ),
            campaign_id=campaign_id,
            user_id=user_id,
        ),
        ws=ws,
        max_buffer_bytes=settings.gateway_client_buffer_bytes,
        abort=_aborter(request),
        unsent=_unsent(request),
        slow_close_timeout=settings.gateway_slow_close_s,
        on_slow=lambda _c: gateway.metrics.slow_closes.inc(),
        on_written=gateway.metrics.delivery_latency.observe,
    )
    connection.start()

    resumed = False

    def welcome(position: Position, recovered: bool) -> None:
        nonlocal resumed
        resumed = recovered
        connection.send_direct(
            welcome_frame(
                connection_id=connection.id,
                campaign_id=campaign_id,
                user_id=user_id,
                position=position.encode(),
                recovered=recovered,
            )
        )

    replay: asyncio.Task[None] | None = None
    sent_code: int | None = None  # the close code aiohttp sent on its own, if it did
    user_key = (campaign_id, user_id)
    bucket = gateway.rate_limits.acquire(user_key)
    expiry = _close_at_expiry(gateway, connection, gateway.authenticator.valid_until(principal))
    events = EventPipeline(connection.send_direct)
    try:
        try:
            catch_up = await gateway.dispatcher.join(connection, welcome, since=since)
        except Exception as exc:
            log.warning("could not join connection %s: %s", connection.id, exc)
            await connection.close(
                CloseCode.GOING_AWAY, "could not join: Kafka unavailable, reconnect and resume"
            )
            return ws
        if since is not None:
            gateway.metrics.resumes.labels("true" if resumed else "false").inc()
        if not gateway.accepting:
            # A drain began while this connection was joining (its Kafka offsets, its
            # resume check): the drain listed the connections to close before this one was
            # registered, so it leaves by itself, as they do.
            await connection.flush(timeout=2.0)
            await connection.close(CloseCode.GOING_AWAY, "gateway draining: reconnect and resume")
            return ws
        if catch_up is not None:
            replay = asyncio.create_task(_replay(gateway, catch_up), name=f"replay-{connection.id}")
        async for message in ws:
            if connection.closing:
                # Its token expired, or it is closed as slow: nothing more is taken from it
                # (unanswered, the client resends after reconnecting).
                continue
            if message.type is WSMsgType.TEXT:
                if not bucket.take():
                    # Refused unread, at once: it writes nothing, so it takes no turn.
                    connection.send_direct(
                        await gateway.ingress.handle(
                            connection, message.data, allowed=False, retry_after_s=bucket.wait_s()
                        )
                    )
                    continue
                # Bound now: the event is handled in a task of its own, after this loop
                # has moved on to the next frame.
                await events.submit(
                    partial(gateway.ingress.handle, connection, message.data, allowed=True)
                )
            elif message.type is WSMsgType.BINARY:
                allowed = bucket.take()
                connection.send_direct(
                    gateway.ingress.refuse_binary(
                        connection,
                        message.data,
                        allowed=allowed,
                        retry_after_s=0.0 if allowed else bucket.wait_s(),
                    )
                )
            elif message.type is WSMsgType.ERROR:
                # aiohttp closed the socket itself: a frame over the limit (1009) or a
                # protocol violation. The client sees only the close code, and aiohttp
                # records the close as abnormal (1006): the code sent is the error's.
                error = ws.exception()
                sent_code = getattr(error, "code", None)
                log.info(
                    "connection %s closed with %s: %s",
                    connection.id,
                    sent_code or ws.close_code,
                    error or "WebSocket protocol error",
                )
                break
    finally:
        # The socket is closed (or closing): the events in hand that are not queued for
        # Kafka yet are not written (Ingress checks), since their answers could not reach
        # the client, which resends them after resuming, perhaps on another pod.
        connection.stop_taking()
        try:
            await events.finish()
        finally:
            # All of it even if the handler is cancelled while those events finish (a
            # shutdown): rate-limit share, replay and partition hold given back, socket closed.
            gateway.rate_limits.release(user_key)
            if expiry is not None:
                expiry.cancel()
            # Ended before the connection leaves: its consumer stopped and its replay slot
            # given back before this handler returns, not some time after.
            await cancel_and_wait(replay)
            await gateway.dispatcher.leave(connection)
            if not ws.closed:
                await connection.flush(timeout=2.0)
            if ws.close_code is None:
                await connection.close(CloseCode.GOING_AWAY, "bye")
            else:
                await connection.close(ws.close_code, "")
            # The gateway's own code when it closed first (the peer's reply may be any:
            # aiohttp's client answers 1000), else the peer's; none at all: dropped.
            ws.ended_with = (
                sent_code
                or connection.sent_close_code
                or ws.close_code
                or WSCloseCode.ABNORMAL_CLOSURE
            )
            gateway.metrics.count_close(ws.ended_with)
    return ws


def _since(request: web.Request) -> Position | None:
    text = request.query.get("since")
    if not text:
        return None
    try:
        return Position.decode(text)
    except ValueError:
        # An unreadable position is answered like an expired one: recovered=false.
        return Position(partitions=0, partition=0, offset=0, system=())


async def _take_connection_id(
    request: web.Request, gateway: Gateway, campaign_id: str, user_id: str, *, resuming: bool
) -> str:
    """A resumed connection keeps its id, so replies addressed to it still reach it: the id it
    names, or without one the id of the single connection of this user that left this pod
    lately (:mod:`nexus_gateway.departures`).

    When the old connection still looks alive here (its socket died half-open and nobody
    noticed yet), the same user's resume takes it over: the old one is closed, and its
    pending requests (their replies and timeouts) go to the new one. An id that is not this
    user's in this campaign (its owner tag says so, on any pod) gets a fresh one.
    """
    previous = request.query.get("connection_id")
    if resuming and not previous and not any(gateway.hub.of_user(campaign_id, user_id)):
        # Only a position, and none of this user's connections here: the one that left here
        # lately, if there is exactly one.
        previous = gateway.hub.departures.sole(campaign_id, user_id)
    fresh = new_connection_id(campaign_id, user_id)
    if not (resuming and previous and owns_connection_id(previous, campaign_id, user_id)):
        return fresh
    old = gateway.hub.get(previous)
    if old is None:
        return previous
    if (old.identity.campaign_id, old.identity.user_id) != (campaign_id, user_id):
        return fresh
    await gateway.dispatcher.leave(old)
    # Taken over, not gone: no position-only resume may claim the id before this one
    # registers it.
    gateway.hub.departures.returned(campaign_id, user_id, previous)
    _close_in_background(old, CloseCode.REPLACED, "replaced by a newer connection of this user")
    return previous


def _close_at_expiry(
    gateway: Gateway, connection: Connection, valid_until: float | None
) -> asyncio.TimerHandle | None:
    """A token is checked at the handshake only; without this a connection would outlive its
    token (and a revoked user's access) for as long as the socket stays up."""
    if valid_until is None:
        return None

    async def close() -> None:
        # From now on the connection takes nothing more, neither events for the client nor
        # events from it (the handler skips them); answers already queued (acks of events
        # Kafka has) go out first: a client that lost them would resend those events.
        connection.stop_taking()
        await connection.flush(timeout=EXPIRY_FLUSH_S)
        await connection.close(
            CloseCode.UNAUTHORIZED, "token expired: reconnect with a new token and resume"
        )

    def expire() -> None:
        gateway.metrics.token_expiries.inc()
        run_detached(close(), name=f"expire-{connection.id}")

    delay = max(0.0, valid_until - time.time())
    return asyncio.get_running_loop().call_later(delay, expire)


def _close_in_background(connection: Connection, code: int, message: str) -> None:
    """Close ``connection`` without waiting for its close handshake."""
    run_detached(connection.close(code, message), name=f"close-{connection.id}")


async def _replay(gateway: Gateway, job: CatchUp) -> None:
    connection = job.connection
    try:
        await gateway.catch_up.replay(job)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        unfinished = (
            exc
            if isinstance(exc, ReplayUnfinishedError)
            else ReplayUnfinishedError("failed", describe_error(exc))
        )
        # A template per reason: the log's repeat filter holds back a flood of one kind (all
        # counted in nexus_gateway_replays_unfinished_total{reason}) while another kind still
        # shows at once. A fault of the gateway's own comes with its traceback.
        log.warning(
            f"replay for connection %s did not finish ({unfinished.reason}): %s; "
            "closing it with 1001 to resume again",
            connection.id,
            unfinished,
            exc_info=unfinished.reason == "failed",
        )
        connection.replay_over()  # its events wait no longer: it is being closed
        # Detached: the close wakes the handler, whose cleanup cancels this task, and a close
        # cancelled half-way drops the connection before the client could read its 1001.
        _close_in_background(connection, CloseCode.GOING_AWAY, unfinished.close_message)
        return
    connection.end_catch_up()


def _unsent(request: web.Request) -> Callable[[], int]:
    """Bytes the TCP connection still holds for the client (0 once it is gone)."""
    transport = request.transport

    def unsent() -> int:
        return 0 if transport is None else int(transport.get_write_buffer_size())

    return unsent


def _aborter(request: web.Request) -> Callable[[bool], None]:
    """Drop the TCP connection (with ``True``: only if bytes are still waiting to be sent)."""
    # Taken now: once aiohttp gave up on a close it may have detached the transport from the
    # request.
    transport = request.transport

    def abort(only_if_stuck: bool) -> None:
        if transport is None or (only_if_stuck and not transport.get_write_buffer_size()):
            return
        transport.abort()

    return abort
