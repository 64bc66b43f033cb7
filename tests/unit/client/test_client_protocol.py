"""MeshClient frame handling, against a scripted protocol peer.

``ScriptedPeer`` below is NOT the gateway. It is a stand-in written for this file only: a tiny
aiohttp WebSocket server that speaks the client protocol of DESIGN.md section 5 (welcome,
ack/error per client event, delivered events with positions, close codes) and answers a few
test-only event types with fixed scripts, so that each test pins down one piece of the
client's frame routing. The real gateway is tested end to end in the e2e suites.

No test sleeps to synchronise: every step waits on a frame, a future or an asyncio.Event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from nexus_gateway.client_frame import scanned_event_id
from nexus_mesh.client import (
    Event,
    MeshClient,
    MeshClosedError,
    MeshConnectError,
    MeshError,
    MeshProtocolError,
    MeshTimeoutError,
)
from nexus_mesh.client.frames import encode_event
from nexus_mesh.envelope import REFUSAL_HEADER
from nexus_testkit import eventually

TOKEN = "good-token"
WELCOME_POSITION = "v1.4.2.10."
TOPIC = "t.chat"


def frame(type_: str, payload: dict[str, Any], **metadata: Any) -> bytes:
    return orjson.dumps({"type": type_, "payload": payload, "metadata": metadata})


async def send_text(ws: web.WebSocketResponse, data: bytes) -> None:
    await ws.send_frame(data, WSMsgType.TEXT)


def delivered(type_: str, payload: dict[str, Any], position: str, **metadata: Any) -> bytes:
    return frame(
        type_, payload, position=position, campaign_id="demo", source="peer", time=1, **metadata
    )


class ScriptedPeer:
    """Protocol stand-in for the gateway; see the module docstring."""

    def __init__(self) -> None:
        self.base_url = ""
        self.ws: web.WebSocketResponse | None = None
        self.requests: list[web.Request] = []
        self.received: list[dict[str, Any]] = []
        self.disconnected = asyncio.Event()
        self.peer_close_code: int | None = None
        self.reject_with_status: int | None = None
        self.refusals_left = 0  # handshakes answered 503 before the next one is taken
        self._offsets: dict[str, int] = {}
        self._next_offset = 100
        self._held: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/{campaign_id}/{user_id}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.reject_with_status is not None or self.refusals_left > 0:
            self.refusals_left -= 1
            raise web.HTTPServiceUnavailable(
                text="gateway is draining", headers={REFUSAL_HEADER: "gateway is draining"}
            )
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        subprotocols = [p for p in offered if p.startswith("bearer.")]
        ws = web.WebSocketResponse(protocols=subprotocols)
        await ws.prepare(request)
        token = (
            request.headers.get("Authorization", "").removeprefix("Bearer ")
            or request.query.get("token")
            or (subprotocols[0].removeprefix("bearer.") if subprotocols else "")
        )
        if token != TOKEN:
            await ws.close(code=4001, message=b"invalid token")
            return ws
        self.ws = ws
        since = request.query.get("since")
        await send_text(
            ws,
            frame(
                "nexus.welcome",
                {
                    "connection_id": "conn-1",
                    "campaign_id": request.match_info["campaign_id"],
                    "user_id": request.match_info["user_id"],
                    "position": since or WELCOME_POSITION,
                    "recovered": since is not None,
                },
                event_id="w1",
            ),
        )
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._answer(ws, message.data)
                elif message.type is WSMsgType.BINARY:
                    await send_text(ws, self._error(None, "bad_frame", False))
        finally:
            self.peer_close_code = ws.close_code
            self.disconnected.set()
        return ws

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await send_text(self.ws, data)

    def _ack(self, event_id: str) -> bytes:
        duplicate = event_id in self._offsets
        if not duplicate:
            self._offsets[event_id] = self._next_offset
            self._next_offset += 1
        payload = {
            "event_id": event_id,
            "topic": TOPIC,
            "partition": 2,
            "offset": self._offsets[event_id],
            "duplicate": duplicate,
        }
        return frame("nexus.ack", payload, event_id="a", correlation_id=event_id)

    @staticmethod
    def _error(event_id: str | None, code: str, retryable: bool) -> bytes:
        payload = {
            "code": code,
            "message": f"{code}!",
            "event_id": event_id,
            "retryable": retryable,
            "retry_after_ms": 1500 if code == "rate_limited" else None,
        }
        return frame("nexus.error", payload, event_id="e", correlation_id=event_id)

    async def _answer(self, ws: web.WebSocketResponse, text: str) -> None:
        try:
            event = orjson.loads(text)
            type_, payload, event_id = (
                event["type"],
                event["payload"],
                event["metadata"]["event_id"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await send_text(ws, self._error(None, "bad_frame", False))
            return
        self.received.append(event)
        correlation_id = event["metadata"].get("correlation_id") or event_id
        if type_ == "test.invalid":
            await send_text(ws, self._error(event_id, "schema_invalid", False))
        elif type_ == "test.busy":
            await send_text(ws, self._error(event_id, "rate_limited", True))
        elif type_ == "test.bad_ack":
            # An ack without its partition and offset, as no gateway sends it.
            bad = {"event_id": event_id, "topic": TOPIC}
            await send_text(ws, frame("nexus.ack", bad, event_id="a", correlation_id=event_id))
        elif type_ == "test.burst":
            for i in range(1, payload["count"] + 1):
                await send_text(ws, delivered("chat.message", {"n": i}, f"p{i}"))
            await send_text(ws, self._ack(event_id))
        elif type_ == "test.hangup":
            # One event the client has not read yet, then the close instead of an answer.
            await send_text(ws, delivered("chat.message", {"last": True}, "p-last"))
            await ws.close(code=payload["code"], message=b"peer hangs up")
        elif type_ in ("test.limited_resend", "test.doubtful") and event_id not in self._held:
            self._held.add(event_id)  # answered once the resend comes, as below
        elif type_ == "test.limited_resend":
            # The resend is refused unread at once; the first send's write is acked after.
            await send_text(ws, self._error(event_id, "rate_limited", True))
            await send_text(ws, self._ack(event_id))
        elif type_ == "test.doubtful":
            # The first write stays in doubt; the resend waits for it and gets its ack.
            await send_text(ws, self._error(event_id, "unconfirmed", True))
            self._offsets[event_id] = self._next_offset
            await send_text(ws, self._ack(event_id))
        elif type_ == "search" and payload.get("refuse_after_reply"):
            # The reply overtakes the write's answer, which then says it is in doubt.
            reply = delivered(
                "search.completed",
                {"hits": []},
                "p-early",
                correlation_id=correlation_id,
                connection_id="conn-1",
                event_id="r-2",
            )
            await send_text(ws, reply)
            await send_text(ws, self._error(event_id, "unconfirmed", True))
        elif type_ == "test.repeat-reply":
            # The service handles a request again after the client resumed: its reply once
            # more, then another event.
            await send_text(ws, self._ack(event_id))
            again = delivered(
                "search.completed",
                {"hits": []},
                "p-again-3",
                correlation_id=payload["correlation_id"],
                connection_id="conn-1",
                event_id=payload.get("reply_id", "r-1"),
            )
            await send_text(ws, again)
            await send_text(ws, delivered("chat.message", {"n": "after"}, "p-after-2"))
        elif type_ == "test.drop":
            # The TCP connection dropped under the session: no close frame, no answer.
            transport = self.requests[-1].transport
            assert transport is not None
            transport.abort()
        elif type_ == "search" and event_id in self._offsets:
            # A resend: the service handled it already, so only the duplicate ack comes.
            await send_text(ws, self._ack(event_id))
        elif type_ == "search":
            reply = delivered(
                "search.completed",
                {"hits": [{"title": "Kind of Blue", "score": 1.0}]},
                "p-reply",
                correlation_id=correlation_id,
                connection_id="conn-1",
                **({"event_id": "r-1"} if payload.get("twice") else {}),
            )
            # An unrelated event that carries a correlation id nobody waits for, first.
            noise = delivered("chat.message", {"n": 0}, "p-noise", correlation_id="other")
            await send_text(ws, noise)
            if payload.get("reply_first"):
                await send_text(ws, reply)
                await send_text(ws, self._ack(event_id))
            else:
                await send_text(ws, self._ack(event_id))
                await send_text(ws, reply)
            if payload.get("twice"):
                # An at-least-once service handled it twice (a crash, a rebalance): the same
                # reply, its event id kept, at a later position; then another event.
                for position, reply_id in (("p-again", "r-1"), ("p-again-2", "r-1")):
                    again = delivered(
                        "search.completed",
                        {"hits": []},
                        position,
                        correlation_id=correlation_id,
                        connection_id="conn-1",
                        event_id=reply_id,
                    )
                    await send_text(ws, again)
                await send_text(ws, delivered("chat.message", {"n": "after"}, "p-after"))
        else:
            await send_text(ws, self._ack(event_id))


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    scripted = ScriptedPeer()
    server = TestServer(scripted.app(), host="127.0.0.1")
    await server.start_server()
    scripted.base_url = str(server.make_url(""))
    try:
        yield scripted
    finally:
        await server.close()


async def test_welcome_is_parsed_and_token_sent_as_bearer_header(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice@x", token=TOKEN
    ) as client:
        assert client.welcome == {
            "connection_id": "conn-1",
            "campaign_id": "demo",
            "user_id": "alice@x",
            "position": WELCOME_POSITION,
            "recovered": False,
        }
        assert client.connection_id == "conn-1"
        assert client.position == WELCOME_POSITION
        assert client.recovered is False
        assert not client.closed
    request = peer.requests[-1]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "since" not in request.query
    await asyncio.wait_for(peer.disconnected.wait(), 5)
    assert peer.peer_close_code == 1000
    assert client.closed
    assert client.close_code == 1000


@pytest.mark.parametrize("auth_via", ["subprotocol", "query"])
async def test_token_by_subprotocol_or_query(peer: ScriptedPeer, auth_via: Any) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="bob", token=TOKEN, auth_via=auth_via
    ) as client:
        assert client.connection_id == "conn-1"
    request = peer.requests[-1]
    assert "Authorization" not in request.headers
    if auth_via == "query":
        assert request.query["token"] == TOKEN
    else:
        assert request.headers["Sec-WebSocket-Protocol"] == f"bearer.{TOKEN}"


async def test_connect_refused_with_4001_raises_connect_error(peer: ScriptedPeer) -> None:
    with pytest.raises(MeshConnectError) as refused:
        await MeshClient.connect(peer.base_url, campaign_id="demo", user_id="eve", token="forged")
    assert refused.value.close_code == 4001
    assert refused.value.reason == "invalid token"
    assert refused.value.retriable is False
    assert refused.value.needs_new_token is True
    assert isinstance(refused.value, ConnectionError)


async def test_handshake_refused_by_http_status(peer: ScriptedPeer) -> None:
    peer.reject_with_status = 503
    with pytest.raises(MeshConnectError) as refused:
        await MeshClient.connect(peer.base_url, campaign_id="demo", user_id="eve", token=TOKEN)
    assert refused.value.close_code is None
    assert refused.value.status == 503
    assert refused.value.retriable is True
    # The gateway's reason, not aiohttp's "Invalid response status".
    assert refused.value.reason == "gateway is draining"
    assert str(refused.value) == "cannot join the mesh (HTTP 503): gateway is draining"


async def test_emit_is_answered_by_the_ack_with_its_event_id(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        first, second = await asyncio.gather(
            client.emit("chat.message", {"text": "one"}, attributes={"k": "v"}),
            client.emit("chat.message", {"text": "two"}, correlation_id="conv-7"),
        )
        assert first.event_id != second.event_id
        assert {first.offset, second.offset} == {100, 101}
        assert first.topic == TOPIC
        assert first.partition == 2
        assert first.duplicate is False
        sent = {e["payload"]["text"]: e["metadata"] for e in peer.received}
        assert sent["one"] == {"event_id": first.event_id, "attributes": {"k": "v"}}
        assert sent["two"] == {"event_id": second.event_id, "correlation_id": "conv-7"}

        again = await client.emit("chat.message", {"text": "one"}, event_id=first.event_id)
        assert again.duplicate is True
        assert again.offset == first.offset


@pytest.mark.parametrize(
    ("type_", "code", "retryable"),
    [("test.invalid", "schema_invalid", False), ("test.busy", "rate_limited", True)],
)
async def test_emit_answered_by_error_raises_mesh_error(
    peer: ScriptedPeer, type_: str, code: str, retryable: bool
) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        with pytest.raises(MeshError) as refused:
            await client.emit(type_, {}, event_id="evt-1")
        assert refused.value.code == code
        assert refused.value.retryable is retryable
        assert refused.value.retriable is retryable
        assert refused.value.event_id == "evt-1"
        assert refused.value.retry_after == (1.5 if code == "rate_limited" else None)
        # The session is still usable after a refused event.
        assert (await client.emit("chat.message", {"text": "ok"})).offset == 100


async def test_a_malformed_ack_raises_a_mesh_protocol_error_naming_the_event(
    peer: ScriptedPeer,
) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        with pytest.raises(MeshProtocolError, match=r"malformed nexus\.ack") as broken:
            await client.emit("test.bad_ack", {}, event_id="evt-1")
        assert broken.value.event_id == "evt-1"
        assert broken.value.retriable is False
        with pytest.raises(MeshProtocolError):
            await client.request("test.bad_ack", {}, event_id="evt-2")
        # Only that answer was wrong: the session goes on.
        assert (await client.emit("chat.message", {"text": "ok"})).offset == 100


@pytest.mark.parametrize("reply_first", [False, True])
async def test_request_gets_its_correlated_reply_and_others_go_to_events(
    peer: ScriptedPeer, reply_first: bool
) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        reply = await client.request("search", {"query": "jazz", "reply_first": reply_first})
        sent = peer.received[-1]["metadata"]
        assert reply.type == "search.completed"
        assert reply.correlation_id == sent["event_id"]
        assert reply.payload["hits"][0]["title"] == "Kind of Blue"
        assert "correlation_id" not in sent  # the gateway falls back to the event id

        noise = await client.next_event(timeout=5)
        assert noise.type == "chat.message"
        assert noise.correlation_id == "other"
        # The reply was taken by request(): the next event is one sent after it.
        await client.emit("test.burst", {"count": 1})
        assert (await client.next_event(timeout=5)).payload == {"n": 1}

        explicit = await client.request("search", {"query": "blues"}, correlation_id="corr-9")
        assert explicit.correlation_id == "corr-9"
        assert peer.received[-1]["metadata"]["correlation_id"] == "corr-9"


async def test_a_reply_its_service_sent_again_is_not_a_second_answer(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        reply = await client.request("search", {"query": "jazz", "twice": True})
        assert reply.event_id == "r-1"
        assert (await client.next_event(timeout=5)).payload == {"n": 0}  # the noise
        # Straight to the event after the repeats: they are not in events().
        after = await client.next_event(timeout=5)
        assert after.payload == {"n": "after"}
        assert client.repeated_replies == 2
        assert client.position == "p-after"


async def test_a_reply_repeated_after_a_resume_is_not_a_second_answer_either(
    peer: ScriptedPeer,
) -> None:
    client = await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    )
    async with client:
        reply = await client.request("search", {"query": "jazz", "twice": True}, event_id="s-9")
        assert reply.event_id == "r-1"
    async with client.resume() as resumed:
        await resumed.emit("test.repeat-reply", {"correlation_id": "s-9"})
        assert (await resumed.next_event(timeout=5)).payload == {"n": "after"}
        assert resumed.repeated_replies == 1


async def test_a_reply_whose_request_failed_is_no_answer_given(peer: ScriptedPeer) -> None:
    """request() raised (its write in doubt) as its reply came: the application never had
    that reply, so the service's repeat of it is delivered to events(), not dropped."""
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        with pytest.raises(MeshError):
            await client.request("search", {"refuse_after_reply": True}, event_id="s-3")
        await client.emit("test.repeat-reply", {"correlation_id": "s-3", "reply_id": "r-2"})
        repeat = await client.next_event(timeout=5)
        assert (repeat.type, repeat.event_id) == ("search.completed", "r-2")
        assert client.repeated_replies == 0


async def test_position_follows_each_delivered_event(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        assert client.position == WELCOME_POSITION
        await client.emit("test.burst", {"count": 3})
        # The ack came after the three events, so the reader has seen all of them.
        assert client.position == "p3"
        events = [await client.next_event(timeout=5) for _ in range(3)]
        assert [e.payload["n"] for e in events] == [1, 2, 3]
        assert [e.position for e in events] == ["p1", "p2", "p3"]
        assert all(isinstance(e, Event) and not e.is_protocol for e in events)
        last = client.position

    async with client.resume() as resumed:
        assert peer.requests[-1].query["since"] == last
        assert resumed.recovered is True
        assert resumed.position == last


async def test_pending_emit_fails_when_the_server_closes(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        with pytest.raises(MeshClosedError) as closed:
            await client.emit("test.hangup", {"code": 4008}, timeout=5)
        assert isinstance(closed.value, ConnectionError)
        assert closed.value.close_code == 4008
        assert closed.value.retriable is True
        assert client.closed
        assert client.close_code == 4008
        assert client.close_reason == "peer hangs up"
        # Events received before the close are still handed out, then the stream ends.
        assert [e.payload async for e in client.events()] == [{"last": True}]
        assert client.position == "p-last"
        with pytest.raises(MeshClosedError):
            await client.next_event(timeout=5)
        with pytest.raises(MeshClosedError) as late:
            await client.emit("chat.message", {"text": "too late"}, event_id="e-late")
        assert late.value.event_id == "e-late", "named, for a resend after the resume"
        assert closed.value.event_id is not None


async def test_a_send_on_a_dropped_connection_marks_the_session_closed(
    peer: ScriptedPeer,
) -> None:
    """The chaos check's hang in CI, as far as its output tells: aiohttp refuses a send at
    once, without yielding, when the transport is closing, and a caller retrying while
    ``closed`` still said False never let the client's reader run to notice the drop. The
    poll below reads aiohttp's private transport to reach that moment exactly: after the
    drop, before the reader has run."""
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        transport = client._ws._writer.transport
        await client.send_raw(frame("test.drop", {}, event_id="drop-1"))
        async with asyncio.timeout(5):
            # Nothing signals the transport's state; one loop turn at a time finds the moment.
            while not transport.is_closing():  # noqa: ASYNC110
                await asyncio.sleep(0)
        codes: list[int | None] = []
        for _ in range(100):
            try:
                await client.emit("chat.message", {"text": "retry"}, timeout=5)
            except MeshClosedError as exc:
                codes.append(exc.close_code)
                if client.closed:
                    break
            else:
                codes.append(None)
        assert codes == [1006]
        assert client.closed
        # Once the reader ran, the session ended for receiving too.
        with pytest.raises(MeshClosedError):
            await client.next_event(timeout=5)
        assert client.close_code == 1006


async def test_close_keeps_the_callers_cancellation(peer: ScriptedPeer) -> None:
    """A caller cancelled while ``close`` waits for the reader to end stays cancelled (a
    swallowed cancellation could keep the chaos check's clean-up waiting on a task that went
    on).
    The reader is swapped for one that lingers after its cancellation until released, so
    the caller's cancellation lands in exactly that wait."""
    client = await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    )
    lingering, release = asyncio.Event(), asyncio.Event()

    async def lingering_reader() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            lingering.set()
            await release.wait()

    client._reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await client._reader
    reader = client._reader = asyncio.create_task(lingering_reader())
    closer = asyncio.create_task(client.close())
    async with asyncio.timeout(5):
        await lingering.wait()
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    assert closer.cancelled()
    # The caller left at once; the reader ends when it is done.
    assert not reader.done()
    release.set()
    await asyncio.wait({reader}, timeout=5)
    assert reader.cancelled()


async def test_events_iterator_ends_when_the_session_closes(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:

        async def collect() -> list[Event]:
            return [event async for event in client.events()]

        collector = asyncio.create_task(collect())
        await peer.send(delivered("chat.message", {"n": 1}, "p1"))
        assert peer.ws is not None
        await peer.ws.close(code=1001, message=b"draining")
        events = await asyncio.wait_for(collector, 5)
        assert [e.payload for e in events] == [{"n": 1}]
        assert client.close_code == 1001


async def test_unmatched_answers_reach_next_protocol_frame(peer: ScriptedPeer) -> None:
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        await client.send_raw("{not json")
        error = await client.next_protocol_frame(timeout=5)
        assert error.type == "nexus.error"
        assert error.payload["code"] == "bad_frame"
        assert error.correlation_id is None

        await client.send_raw(b"\x00\x01", binary=True)
        assert (await client.next_protocol_frame(timeout=5)).payload["code"] == "bad_frame"

        raw = frame("chat.message", {"text": "raw"}, event_id="raw-1")
        await client.send_raw(raw)
        ack = await client.next_protocol_frame(timeout=5)
        assert ack.type == "nexus.ack"
        assert ack.correlation_id == "raw-1"


async def test_borrowed_session_is_left_open(peer: ScriptedPeer) -> None:
    async with aiohttp.ClientSession() as session:
        async with MeshClient.connect(
            peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN, session=session
        ) as client:
            await client.emit("chat.message", {"text": "hi"})
        assert client.closed
        assert not session.closed


async def test_ids_the_gateway_would_refuse_fail_before_anything_is_sent() -> None:
    """The gateway answers a bad path id with a bare HTTP 400, and a bad event_id with a
    bad_frame that names no event (so an emit would wait out its timeout): the client says
    what is wrong at once instead."""
    with pytest.raises(ValueError, match="user_id 'a b' must be 1-128 characters"):
        await MeshClient.connect("http://127.0.0.1:9", campaign_id="demo", user_id="a b")
    with pytest.raises(ValueError, match="correlation_id '' must be"):
        encode_event("chat.message", {}, event_id="e-1", correlation_id="")
    with pytest.raises(ValueError, match="give its since"):
        await MeshClient.connect(
            "http://127.0.0.1:9", campaign_id="demo", user_id="a", connection_id="conn-1"
        )


def test_a_frame_refused_unread_is_matched_by_its_own_event_id() -> None:
    """The gateway names the event of a frame it refuses unread (over the rate limit, too
    large) by the last "event_id" in its text: an attribute or payload field of that name
    must not be taken for it, or the error reaches no send and the emit waits out its
    timeout."""
    frame = encode_event(
        "chat.message",
        {"event_id": "payload-1"},
        event_id="real-1",
        correlation_id="corr-1",
        attributes={"event_id": "order-17"},
    )
    assert scanned_event_id(frame) == "real-1"
    assert scanned_event_id(frame.decode()) == "real-1"


async def give_up_as_the_reply_comes(client: MeshClient, event_id: str) -> None:
    """A ``search`` request cancelled in the very turn its reply reaches it: timed off the
    reader's own step (the position moves to the reply's as the reader hands it over, before
    the request runs again)."""
    loop = asyncio.get_running_loop()
    asking = asyncio.create_task(client.request("search", {"query": "jazz"}, event_id=event_id))

    def cancel_once_replied() -> None:
        if client.position == "p-reply":
            asking.cancel()
        else:
            loop.call_soon(cancel_once_replied)

    loop.call_soon(cancel_once_replied)
    with pytest.raises(asyncio.CancelledError):
        await asking


async def test_a_reply_that_comes_as_its_request_gives_up_is_kept_for_the_resend(
    peer: ScriptedPeer,
) -> None:
    """The request is cancelled (or times out) in the very turn its reply arrived: the reply
    was thrown away, and the resend the error asks for got a duplicate ack and no reply (the
    service had answered already)."""
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        await give_up_as_the_reply_comes(client, "s-1")
        again = await client.request("search", {"query": "jazz"}, event_id="s-1", timeout=5)
        # Handed out once: a third send gets the duplicate ack and waits in vain.
        with pytest.raises(MeshTimeoutError) as waited:
            await client.request("search", {"query": "jazz"}, event_id="s-1", timeout=0.5)
    assert again.type == "search.completed" and again.correlation_id == "s-1"
    assert waited.value.retriable and waited.value.event_id == "s-1"
    assert len([e for e in peer.received if e["type"] == "search"]) == 3


async def test_a_kept_reply_goes_over_to_the_resumed_session(peer: ScriptedPeer) -> None:
    """The reply came as the request gave up, and the position moved past it: a resume
    replays nothing of it, so the resumed session must have it for the resend."""
    client = await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    )
    async with client:
        await give_up_as_the_reply_comes(client, "s-2")
    async with client.resume() as resumed:
        again = await resumed.request("search", {"query": "jazz"}, event_id="s-2", timeout=5)
    assert again.type == "search.completed" and again.correlation_id == "s-2"


async def test_reconnect_retries_a_draining_pod_s_refusals_with_backoff(peer: ScriptedPeer) -> None:
    """Two 503s (pods draining), then a handshake taken: the resume goes through, on the
    same connection id, after the position; a refusal that does not pass is raised at once."""
    client = await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    )
    await client.close()
    before = len(peer.requests)
    peer.refusals_left = 2
    resumed = await client.reconnect(first_delay_s=0.01)
    async with resumed:
        assert len(peer.requests) - before == 3
        assert peer.requests[-1].query["connection_id"] == "conn-1"
        assert peer.requests[-1].query["since"] == WELCOME_POSITION
    with pytest.raises(MeshConnectError) as refused:
        await client.reconnect(token="wrong", first_delay_s=0.01)
    assert refused.value.close_code == 4001
    assert len(peer.requests) - before == 4, "a refused token is not tried again"
    peer.refusals_left = 5
    with pytest.raises(MeshConnectError) as gave_up:
        await client.reconnect(attempts=3, first_delay_s=0.01)
    assert gave_up.value.status == 503


async def test_a_session_taken_over_by_a_resume_is_not_resumed_again(peer: ScriptedPeer) -> None:
    """4009: another session of the user resumed this id. Resuming it again would take it
    back, and the two would take it from each other for ever."""
    client = await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    )
    async with client:
        with pytest.raises(MeshClosedError) as closed:
            await client.emit("test.hangup", {"code": 4009}, timeout=5)
    assert closed.value.retriable is False
    before = len(peer.requests)
    with pytest.raises(MeshConnectError) as refused:
        await client.reconnect(first_delay_s=0.01)
    assert refused.value.close_code == 4009 and refused.value.retriable is False
    assert len(peer.requests) == before, "no handshake was even tried"
    with pytest.raises(ValueError, match="attempts"):
        await client.reconnect(attempts=0)


def replayed_reply(correlation_id: str) -> bytes:
    """A ``search.completed`` for this connection, as a resume replays it."""
    return delivered(
        "search.completed",
        {"hits": []},
        "p-replayed",
        correlation_id=correlation_id,
        connection_id="conn-1",
    )


async def received_through(client: MeshClient, position: str) -> None:
    async def there() -> bool:
        return client.position == position

    await eventually(there, what=f"the client's position at {position}")


async def test_a_replayed_reply_a_resend_takes_is_not_also_an_event(peer: ScriptedPeer) -> None:
    """A resume replays a reply before its request is resent: the resend returns it, and
    the application does not get it a second time from events()."""
    peer._offsets["s-9"] = 7  # handled before the drop: the resend gets a duplicate ack
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        await peer.send(replayed_reply("s-9"))
        await received_through(client, "p-replayed")
        reply = await client.request("search", {"query": "jazz"}, event_id="s-9", timeout=5)
        assert reply.type == "search.completed" and reply.correlation_id == "s-9"
        await client.emit("test.burst", {"count": 1})
        assert (await client.next_event(timeout=5)).payload == {"n": 1}


async def test_a_waiting_emit_takes_events_past_the_bound_only_so_far(
    peer: ScriptedPeer,
) -> None:
    """Nobody reads events() while an emit waits for its ack, which the gateway sends after
    1,200 events: the inbox (bound 5) takes events past its bound up to 1,005 (its bound plus
    at least 1,000), then stops reading, so memory stays bounded and the emit times out
    instead. Nothing is lost: once events are read, all follow in order, and the late ack
    reaches the protocol inbox."""
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN, max_queued_events=5
    ) as client:
        with pytest.raises(MeshTimeoutError):
            await client.emit("test.burst", {"count": 1200}, event_id="b-1", timeout=1.0)
        got = [(await client.next_event(timeout=5)).payload["n"] for _ in range(1200)]
        assert got == list(range(1, 1201))
        late = await client.next_protocol_frame(timeout=5)
        assert late.type == "nexus.ack" and late.payload["event_id"] == "b-1"


async def test_a_replayed_reply_waiting_for_room_is_not_also_an_event(
    peer: ScriptedPeer,
) -> None:
    """The replay stands behind a full inbox (bound 2) when the request is resent: the
    reader holds the reply, waiting for room, as the resend takes it. The application reads
    the two events before it, and not the reply a second time."""
    peer._offsets["s-10"] = 7
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN, max_queued_events=2
    ) as client:
        for n in (1, 2):
            await peer.send(delivered("chat.message", {"n": n}, f"p{n}"))
        await peer.send(replayed_reply("s-10"))
        # The inbox full: the reader holds the reply, waiting for room.
        await received_through(client, "p2")
        reply = await client.request("search", {"query": "jazz"}, event_id="s-10", timeout=5)
        assert reply.correlation_id == "s-10"
        assert [(await client.next_event(timeout=5)).payload["n"] for _ in (1, 2)] == [1, 2]
        await client.emit("test.burst", {"count": 1})
        assert (await client.next_event(timeout=5)).payload == {"n": 1}


async def test_a_replayed_reply_stays_an_event_when_its_resend_fails(peer: ScriptedPeer) -> None:
    """The resend that would take the replayed reply is refused (rate limited): the reply
    stays in events(), since the application got it from no request."""
    async with MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:
        await peer.send(replayed_reply("s-11"))
        await received_through(client, "p-replayed")
        with pytest.raises(MeshError, match="rate_limited"):
            await client.request("test.busy", {}, event_id="s-11", timeout=5)
        kept = await client.next_event(timeout=5)
        assert kept.type == "search.completed" and kept.correlation_id == "s-11"


@pytest.mark.parametrize(
    ("type_", "first", "resend"),
    [
        # The gateway answers a rate-limited resend unread, at once: before the first
        # send's ack, which must still reach the first send.
        ("test.limited_resend", "ack", "rate_limited"),
        # Answers of writes come in order: the first send's doubt, then the resend's ack.
        ("test.doubtful", "unconfirmed", "ack"),
    ],
)
async def test_two_sends_of_one_event_id_each_get_their_own_answer(
    peer: ScriptedPeer, type_: str, first: str, resend: str
) -> None:
    async with await MeshClient.connect(
        peer.base_url, campaign_id="demo", user_id="alice", token=TOKEN
    ) as client:

        async def outcome(send: asyncio.Task[Any]) -> str:
            try:
                await send
            except MeshError as error:
                return error.code
            return "ack"

        one = asyncio.create_task(client.emit(type_, {}, event_id="same-id", timeout=10))
        await eventually(lambda: asyncio.sleep(0, len(peer.received) == 1), what="the first send")
        two = asyncio.create_task(client.emit(type_, {}, event_id="same-id", timeout=10))
        assert (await outcome(one), await outcome(two)) == (first, resend)
