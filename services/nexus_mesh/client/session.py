"""``MeshClient``: one WebSocket session with a gateway, for tests, benchmarks and tools.

A single reader task owns the socket's receiving side and hands every frame to the client's
``Routing`` (``nexus_mesh.client.routing``, which describes where each goes): to the ``emit``
or ``request`` waiting for it, else to the events inbox (bounded: a consumer that falls behind
pushes back on the gateway) or the protocol inbox, unless it repeats a reply a ``request``
returned already (dropped, counted in ``repeated_replies``); it also follows ``position``.

Resume after a close with ``client.resume()`` or
``MeshClient.connect(..., since=client.position)``: the new session starts right after it,
with nothing missing and nothing repeated, provided the old session's ``events()`` is read
to its end (it ends after the last event received) and the new one is opened after the old
one closed (a resume of a session still open takes the position of that moment, and the old
session may still receive events the new one then repeats). Check ``recovered``: False
when the gateway could not replay everything since that position (retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from nexus_mesh.client.frames import (
    ERROR,
    Ack,
    Event,
    MeshClosedError,
    MeshConnectError,
    MeshError,
    MeshProtocolError,
    MeshTimeoutError,
    encode_event,
    parse_frame,
)
from nexus_mesh.client.routing import Routing
from nexus_mesh.client.target import AuthVia, Target, handshake
from nexus_mesh.envelope import PATH_ID_RE, new_event_id
from nexus_mesh.tasks import cancel_and_wait
from nexus_mesh.ws_protocol import CloseCode

log = logging.getLogger(__name__)
# How long a send that found the connection gone waits for the reader to see the end.
LOST_READER_WAIT_S = 1.0
# emit's and request's default wait: longer than three of the gateway's default waits for Kafka
# (NEXUS_GATEWAY_PRODUCE_TIMEOUT_S, 10 s): an event may wait for those before it on its
# connection, then (a resend, or on a resumed connection) for an earlier write or the replay,
# then for its own write.
ANSWER_TIMEOUT_S = 45.0
# The WebSocket ping interval: a half-open connection (a NAT that forgot it, a gateway host
# gone without a FIN) is noticed within this, instead of events() waiting for ever.
HEARTBEAT_S = 30.0
# The close of a session whose connection id another one of the user's resumed.
REPLACED = CloseCode.REPLACED


class Connecting:
    """What ``MeshClient.connect`` returns: await it, or use it as ``async with``."""

    def __init__(self, open_: Callable[[], Awaitable[MeshClient]]) -> None:
        self._open = open_
        self._client: MeshClient | None = None

    def __await__(self) -> Generator[Any, None, MeshClient]:
        return self._open().__await__()

    async def __aenter__(self) -> MeshClient:
        self._client = await self._open()
        return self._client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()


class MeshClient:
    """One session with a gateway. Create it with :meth:`connect`."""

    def __init__(
        self,
        *,
        target: Target,
        ws: aiohttp.ClientWebSocketResponse,
        session: aiohttp.ClientSession,
        owns_session: bool,
        welcome: Event,
    ) -> None:
        self._target = target
        self._ws = ws
        self._session = session
        self._owns_session = owns_session
        self._welcome = welcome
        # Where received frames go: the waiters for answers and replies, the two inboxes, and
        # the position.
        self._routing = Routing(
            max_queued_events=target.max_queued_events, position=_position_of(welcome)
        )
        self._closed = False
        # Set when a send found the connection gone before the reader saw it end: nothing
        # more is sent, and `closed` follows once the reader has handed out what it read.
        self._lost = False
        self._close_code: int | None = None
        self._close_reason = ""
        self._local_close: int | None = None
        self._reader = asyncio.create_task(self._read(), name=f"mesh-client-{self.connection_id}")

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        campaign_id: str,
        user_id: str,
        token: str | None = None,
        since: str | None = None,
        session: aiohttp.ClientSession | None = None,
        auth_via: AuthVia = "header",
        connect_timeout: float = 10.0,
        max_queued_events: int = 10_000,
        max_msg_size: int = 4 * 1024 * 1024,
        heartbeat: float | None = HEARTBEAT_S,
        connection_id: str | None = None,
    ) -> Connecting:
        """Open a session at ``base_url`` (``http(s)://`` or ``ws(s)://`` host, optional prefix).

        Returns once the gateway's ``nexus.welcome`` arrived; raises :class:`MeshConnectError`
        when the handshake is refused or the gateway closes first (4001, 4003, ...).
        ``session`` is borrowed, never closed; without one the client owns a private one.
        Each open WebSocket holds one of the session connector's slots (100 by default), so
        a session shared by many clients needs ``aiohttp.TCPConnector(limit=0)``.
        ``auth_via`` picks where ``token`` goes: the ``Authorization: Bearer`` header, the
        ``bearer.<token>`` subprotocol (as browsers send it) or ``?token=``. ``since`` and
        ``connection_id`` resume an earlier session (its ``position`` and ``connection_id``):
        its missed events, and the replies addressed to that connection, arrive first.
        ``heartbeat`` pings every so many seconds (None: never), so a dead connection ends
        the session instead of leaving ``events()`` waiting for ever.
        """
        if connection_id is not None and since is None:
            # Without a position the gateway opens a new connection: the id would be dropped.
            raise ValueError("connection_id resumes a session: give its since (position) too")
        for name, value in (("campaign_id", campaign_id), ("user_id", user_id)):
            # The gateway refuses the handshake with a bare HTTP 400 otherwise.
            if not PATH_ID_RE.fullmatch(value):
                raise ValueError(
                    f"{name} {value!r} must be 1-128 characters of A-Z a-z 0-9 . _ : @ -"
                )
        target = Target(
            base_url=base_url,
            campaign_id=campaign_id,
            user_id=user_id,
            token=token,
            since=since,
            session=session,
            auth_via=auth_via,
            connect_timeout=connect_timeout,
            max_queued_events=max_queued_events,
            max_msg_size=max_msg_size,
            heartbeat=heartbeat,
            connection_id=connection_id,
        )
        return Connecting(lambda: cls._open(target))

    def resume(self, *, token: str | None = None) -> Connecting:
        """A new session for the same campaign and user, continuing after ``position`` on the
        same ``connection_id``; ``token`` replaces the old one (after 4001, token expired)."""
        target = replace(
            self._target,
            since=self._routing.position,
            connection_id=self.connection_id,
            token=token if token is not None else self._target.token,
        )

        async def open_resumed() -> MeshClient:
            if self._close_code == REPLACED:
                # Taken over by a newer resume of this id: resuming it again would take it
                # back from that one, and the two would go on taking it from each other.
                raise MeshConnectError(
                    REPLACED, "taken over by a newer connection of this user: not resumed"
                )
            resumed = await MeshClient._open(target)
            # Replies received here that no request took are for the resends after the resume.
            resumed._routing.inherit(self._routing)
            return resumed

        return Connecting(open_resumed)

    async def reconnect(
        self,
        *,
        token: str | None = None,
        attempts: int = 8,
        first_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
    ) -> MeshClient:
        """:meth:`resume`, retried while the handshake is refused for a reason that passes
        (``MeshConnectError.retriable``: a draining pod's 503, a pod gone, a 1001 or 4008
        before the welcome), waiting a random time up to ``first_delay_s``, doubling to
        ``max_delay_s``, between attempts (full jitter: the clients a drain closed together
        do not all come back at once); the last refusal, or one that does not pass (4001,
        4003, 4009), is raised. Call it once the session has closed and its ``events()``
        has been read to its end. The first attempt waits its random time too."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        delay = first_delay_s
        for attempt in range(1, attempts + 1):
            # A backoff before each attempt (jitter, not security: S311 does not apply).
            await asyncio.sleep(random.uniform(0, delay))  # noqa: S311
            delay = min(max_delay_s, delay * 2)
            try:
                return await self.resume(token=token)
            except MeshConnectError as exc:
                if not exc.retriable or attempt == attempts:
                    raise
                log.info("resume refused (%s); retrying", exc)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @classmethod
    async def _open(cls, target: Target) -> MeshClient:
        session = target.session or aiohttp.ClientSession()
        try:
            async with asyncio.timeout(target.connect_timeout):
                ws, welcome = await handshake(session, target)
        except TimeoutError:
            await _close_owned(session, target)
            raise MeshConnectError(
                None, f"no nexus.welcome within {target.connect_timeout:g} s"
            ) from None
        except BaseException:
            await _close_owned(session, target)
            raise
        return cls(
            target=target,
            ws=ws,
            session=session,
            owns_session=target.session is None,
            welcome=welcome,
        )

    # -- state --------------------------------------------------------------------------

    @property
    def welcome(self) -> dict[str, Any]:
        return self._welcome.payload

    @property
    def connection_id(self) -> str:
        return str(self._welcome.payload.get("connection_id", ""))

    @property
    def campaign_id(self) -> str:
        return self._target.campaign_id

    @property
    def user_id(self) -> str:
        return self._target.user_id

    @property
    def recovered(self) -> bool:
        """For a resumed session: whether everything since its ``since`` was replayed (False
        when retention, or a change of the topic's partitions, left a gap)."""
        return bool(self._welcome.payload.get("recovered", False))

    @property
    def position(self) -> str | None:
        """The position of the last delivered event received, in the events inbox or
        handed to a request (the welcome's before any); resume from it."""
        return self._routing.position

    @property
    def repeated_replies(self) -> int:
        """Replies dropped because their request had that very reply already."""
        return self._routing.repeated_replies

    @repeated_replies.setter
    def repeated_replies(self, value: int) -> None:
        self._routing.repeated_replies = value

    @property
    def closed(self) -> bool:
        """True once the session ended: ``close_code`` and ``position`` are then final."""
        return self._closed

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def close_reason(self) -> str:
        return self._close_reason

    # -- sending ------------------------------------------------------------------------

    async def emit(
        self,
        type_: str,
        payload: Mapping[str, Any],
        *,
        event_id: str | None = None,
        correlation_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        timeout: float = ANSWER_TIMEOUT_S,
    ) -> Ack:
        """Send one event and return its ``nexus.ack``.

        Raises :class:`MeshError` on ``nexus.error``, :class:`MeshClosedError` when the session
        ends first, ``TimeoutError`` after ``timeout``, :class:`MeshProtocolError` (a
        ``ValueError``) when the answer is an ack that breaks the protocol. Sending again with
        the same ``event_id`` is safe: the gateway answers with the original ack,
        ``duplicate=True``.
        The default ``timeout`` outlasts the gateway's own wait for Kafka (10 s by default,
        three times that at most for an event behind others of the connection): a broker
        outage then ends in ``MeshError``
        ``unconfirmed`` or ``unavailable``, which says what became of the event, rather than
        in a bare ``TimeoutError``.
        """
        event_id = event_id or new_event_id()
        frame = encode_event(
            type_,
            payload,
            event_id=event_id,
            correlation_id=correlation_id,
            attributes=attributes,
            traceparent=traceparent,
            tracestate=tracestate,
        )
        with _naming(event_id, timeout):
            async with asyncio.timeout(timeout):
                return await self._exchange(event_id, frame)

    async def request(
        self,
        type_: str,
        payload: Mapping[str, Any],
        *,
        event_id: str | None = None,
        correlation_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        timeout: float = ANSWER_TIMEOUT_S,
    ) -> Event:
        """Send a request event and return the first delivered event correlated with it.

        The correlation id is ``correlation_id`` or else the event id, as the gateway assigns
        it; give each request one of its own (a reply kept for a resend is matched by it, and
        would answer a new request that reused it). The reply may be a failure or timeout
        event of the flow: check ``reply.type``. Raises like :meth:`emit`, a malformed ack's
        :class:`MeshProtocolError` included; ``timeout`` covers
        both the ack and the reply: keep it above the flow's own ``timeout_ms`` to get its
        timeout event rather than ``MeshTimeoutError``.
        """
        event_id = event_id or new_event_id()
        key = correlation_id or event_id
        if self._routing.awaits_reply(key):
            raise ValueError(f"a request with correlation id {key} is already waiting")
        frame = encode_event(
            type_,
            payload,
            event_id=event_id,
            correlation_id=correlation_id,
            attributes=attributes,
            traceparent=traceparent,
            tracestate=tracestate,
        )
        # Registered before sending: the reply may overtake the ack. A resend after a resume
        # may find it here already, replayed before it was asked for again.
        reply, replayed = self._routing.expect_reply(key)
        answered = False
        try:
            with _naming(event_id, timeout):
                async with asyncio.timeout(timeout):
                    await self._exchange(event_id, frame)
                    result = await reply
                    answered = True
                    if result is replayed:
                        self._routing.take_replayed(key, result)
                    return result
        finally:
            # A reply that arrived as this request gave up is kept for a resend of it.
            self._routing.drop_reply(key, reply, answered=answered)

    async def send_raw(self, data: str | bytes, *, binary: bool = False) -> None:
        """Send one arbitrary frame: text by default, even for bytes (which may be invalid
        UTF-8); ``binary=True`` sends a binary frame. Its answer reaches
        :meth:`next_protocol_frame`."""
        await self._check_open()
        raw = data.encode() if isinstance(data, str) else data
        await self._send(raw, WSMsgType.BINARY if binary else WSMsgType.TEXT)

    async def _exchange(self, event_id: str, frame: bytes) -> Ack:
        await self._check_open()
        answer = self._routing.expect_answer(event_id)
        try:
            await self._send(frame, WSMsgType.TEXT)
            result = await answer
        finally:
            self._routing.drop_answer(event_id, answer)
        if result.type == ERROR:
            raise MeshError.from_event(result)
        return Ack.from_event(result)

    async def _send(self, data: bytes, opcode: WSMsgType) -> None:
        try:
            await self._ws.send_frame(data, opcode)
        except (ConnectionError, aiohttp.ClientError) as exc:
            self._lost = True
            await self._await_reader_end()
            raise MeshClosedError(self._close_code or 1006, str(exc)) from exc

    async def _check_open(self) -> None:
        if self._lost:
            await self._await_reader_end()
        if self._closed or self._lost:
            reason = self._close_reason or ("the connection was lost" if self._lost else "")
            raise MeshClosedError(self._close_code or 1006, reason)

    async def _await_reader_end(self) -> None:
        """Give the reader (bounded) the time to see the connection's end.

        aiohttp refuses a send at once, without yielding, once the transport is closing:
        without this wait a caller retrying while ``closed`` was still False would never let
        the reader run, and would hold the event loop forever. After it ``closed`` and
        ``close_code`` are final, unless the reader is parked on a full events inbox.
        """
        if not self._reader.done():
            await asyncio.wait({self._reader}, timeout=LOST_READER_WAIT_S)

    # -- receiving ----------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Delivered events in order, except replies taken by :meth:`request`; ends on close."""
        while (event := await self._routing.next_event()) is not None:
            yield event

    async def next_event(self, timeout: float = 5.0) -> Event:
        """The next delivered event; ``TimeoutError``, or :class:`MeshClosedError` after the
        last one of a closed session."""
        async with asyncio.timeout(timeout):
            event = await self._routing.next_event()
        if event is None:
            raise MeshClosedError(self._close_code or 1006, self._close_reason)
        return event

    async def next_protocol_frame(self, timeout: float = 5.0) -> Event:
        """The next ``nexus.*`` frame no :meth:`emit` was waiting for (e.g. answers to
        :meth:`send_raw`); the oldest are dropped past 1000 unread."""
        async with asyncio.timeout(timeout):
            frame = await self._routing.next_protocol_frame()
        if frame is None:
            raise MeshClosedError(self._close_code or 1006, self._close_reason)
        return frame

    async def _read(self) -> None:
        reason = ""
        try:
            while True:
                message = await self._ws.receive()
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    event = _parse(message.data)
                    if event is not None:
                        # May wait for room in the events inbox: the socket is not read meanwhile.
                        await self._routing.take(event)
                elif message.type is WSMsgType.ERROR:
                    reason = str(message.data)
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    if isinstance(message.extra, str):
                        reason = message.extra
                    break
        except Exception as exc:
            # Nothing routes frames any more: end the session for every waiter rather than
            # leave them hanging on a socket nobody reads.
            log.exception("mesh client reader failed")
            reason = f"client reader failed: {exc!r}"
            with contextlib.suppress(Exception):
                await self._ws.close(code=1011)
        finally:
            self._finish(self._ws.close_code, reason)
            if self._owns_session and self._local_close is None:
                # Ended by the other side: nothing will use this session again (a resume
                # opens its own), so it is released now rather than at close(), which a
                # caller replacing the client with its resume() never calls.
                with contextlib.suppress(Exception):
                    await self._session.close()

    # -- closing ------------------------------------------------------------------------

    async def close(self, code: int = 1000, message: str = "") -> None:
        """End the session; everything still waiting fails with :class:`MeshClosedError`."""
        if self._local_close is None and not self._closed:
            self._local_close = code
        try:
            await self._ws.close(code=code, message=message.encode()[:120])
        finally:
            try:
                # The reader may be parked on a full events inbox rather than on the socket; a
                # CancelledError out of this is the caller's and goes on, after the clean-up.
                await cancel_and_wait(self._reader)
            finally:
                self._finish(self._ws.close_code, "")
                if self._owns_session:
                    await self._session.close()

    def _finish(self, ws_code: int | None, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_code = self._local_close or ws_code or 1006
        self._close_reason = reason or ("closed by the client" if self._local_close else "")
        self._routing.end(self._close_code, reason)

    async def __aenter__(self) -> MeshClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _close_owned(session: aiohttp.ClientSession, target: Target) -> None:
    if target.session is None:
        await session.close()


@contextlib.contextmanager
def _naming(event_id: str, timeout: float) -> Generator[None, None, None]:
    """Name the event in what an emit or request raises, so that it can be resent as is."""
    try:
        yield
    except (MeshClosedError, MeshProtocolError) as exc:
        exc.event_id = event_id
        raise
    except TimeoutError:
        raise MeshTimeoutError(
            f"no answer to event {event_id} within {timeout:g} s: it may or may not be "
            "written; resend it under the same event_id",
            event_id=event_id,
        ) from None


def _parse(data: str | bytes) -> Event | None:
    try:
        return parse_frame(data)
    except ValueError as exc:
        log.warning("ignoring a malformed frame from the gateway: %s", exc)
        return None


def _position_of(welcome: Event) -> str | None:
    position = welcome.payload.get("position")
    return position if isinstance(position, str) else welcome.position
