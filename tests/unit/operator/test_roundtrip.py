"""The chart's ``helm test`` program (``python -m nexus_mesh.operator.roundtrip``).

``EchoPeer`` below is NOT the gateway: it is a stand-in written for this file, a tiny aiohttp
WebSocket server speaking the client protocol of DESIGN.md section 5 just enough for a round
trip (welcome, ack, the chat message delivered back, a search reply), with switches to leave
out a step. The real gateway is exercised by the end-to-end suites; a real ``helm test`` needs
a cluster, which cannot run here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import jwt
import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from nexus_mesh.operator import roundtrip

SECRET = "s" * 48


class EchoPeer:
    def __init__(self) -> None:
        self.url = ""
        self.tokens: list[str] = []
        self.users: list[str] = []
        self.echo = True
        self.search_reply = "search.completed"
        self.received: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/{campaign}/{user}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.tokens.append(request.headers.get("Authorization", "").removeprefix("Bearer "))
        self.users.append(request.match_info["user"])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        campaign = request.match_info["campaign"]
        await self._send(
            ws,
            "nexus.welcome",
            {
                "connection_id": "c1",
                "campaign_id": campaign,
                "user_id": request.match_info["user"],
                "position": "p0",
                "recovered": False,
            },
        )
        offset = 0
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            event = orjson.loads(message.data)
            self.received.append(event)
            event_id = event["metadata"]["event_id"]
            offset += 1
            await self._send(
                ws,
                "nexus.ack",
                {"event_id": event_id, "topic": "nexus.clients", "partition": 3, "offset": offset},
                correlation_id=event_id,
            )
            if event["type"] == "chat.message" and self.echo:
                await self._send(
                    ws,
                    "chat.message",
                    event["payload"],
                    event_id=event_id,
                    position=f"p{offset}",
                    campaign_id=campaign,
                )
            elif event["type"] == "search.requested":
                await self._send(
                    ws,
                    self.search_reply,
                    {"hits": []},
                    position=f"p{offset}",
                    correlation_id=event_id,
                    campaign_id=campaign,
                    # A reply names the requesting connection, as the gateway's do.
                    user_id=request.match_info["user"],
                    connection_id="c1",
                )
        return ws

    @staticmethod
    async def _send(
        ws: web.WebSocketResponse, type_: str, payload: dict[str, Any], **metadata: Any
    ) -> None:
        frame = {"type": type_, "payload": payload, "metadata": {"event_id": "g", **metadata}}
        await ws.send_frame(orjson.dumps(frame), WSMsgType.TEXT)


@pytest.fixture
async def peer() -> AsyncIterator[EchoPeer]:
    echo = EchoPeer()
    server = TestServer(echo.app(), host="127.0.0.1")
    await server.start_server()
    echo.url = str(server.make_url(""))
    try:
        yield echo
    finally:
        await server.close()


def plan(peer: EchoPeer, **overrides: Any) -> roundtrip.RoundTrip:
    fields: dict[str, Any] = {
        "url": peer.url,
        "campaign": "helm-test",
        "user": "tester",
        "token": "t",
        "timeout_s": 5.0,
    }
    return roundtrip.RoundTrip(**(fields | overrides))


async def test_round_trip_sees_welcome_ack_and_the_message_back(peer: EchoPeer) -> None:
    said: list[str] = []
    await roundtrip.run(plan(peer, search=True), said.append)

    assert said[0].startswith("welcome: connection c1")
    assert said[1] == "ack: nexus.clients partition 3 offset 1"
    assert said[2] == "delivered back at position p1"
    assert said[3] == "search: search.completed"
    assert [e["type"] for e in peer.received] == ["chat.message", "search.requested"]
    assert peer.tokens == ["t"]


async def test_a_message_that_never_comes_back_times_out(peer: EchoPeer) -> None:
    peer.echo = False
    with pytest.raises(roundtrip.RoundTripError, match="no chat message delivered back"):
        await roundtrip.run(plan(peer, timeout_s=0.5), lambda _: None)


async def test_a_failed_search_fails_the_round_trip(peer: EchoPeer) -> None:
    peer.search_reply = "search.failed"
    with pytest.raises(roundtrip.RoundTripError, match=r"search answered search\.failed"):
        await roundtrip.run(plan(peer, search=True), lambda _: None)


async def test_an_unreachable_gateway_is_a_round_trip_error() -> None:
    with pytest.raises(roundtrip.RoundTripError):
        await roundtrip.run(
            roundtrip.RoundTrip(
                url="http://127.0.0.1:9", campaign="c", user="u", token=None, timeout_s=5.0
            ),
            lambda _: None,
        )


def test_token_is_signed_with_the_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_mesh.settings import NexusSettings

    monkeypatch.delenv(roundtrip.TOKEN_ENV, raising=False)
    settings = NexusSettings(auth="jwt", jwt_secret=SECRET, jwt_audience="mesh")  # type: ignore[arg-type]

    token = roundtrip.roundtrip_token(settings, user="tester", campaign="helm-test")

    assert token is not None
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="mesh")
    assert claims["sub"] == "tester"


def test_token_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_mesh.settings import NexusSettings

    monkeypatch.setenv(roundtrip.TOKEN_ENV, "ready-made")
    token = roundtrip.roundtrip_token(NexusSettings(auth="jwt"), user="u", campaign="c")
    assert token == "ready-made"


def test_without_auth_no_token_and_without_a_secret_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nexus_mesh.errors import ConfigurationError
    from nexus_mesh.settings import NexusSettings

    monkeypatch.delenv(roundtrip.TOKEN_ENV, raising=False)
    assert roundtrip.roundtrip_token(NexusSettings(auth="none"), user="u", campaign="c") is None
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_SECRET is not set"):
        roundtrip.roundtrip_token(NexusSettings(auth="jwt"), user="u", campaign="c")


async def test_main_exit_status(
    peer: EchoPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEXUS_AUTH", "none")
    monkeypatch.delenv(roundtrip.TOKEN_ENV, raising=False)
    loop_free = asyncio.to_thread(roundtrip.main, ["--url", peer.url, "--timeout", "5"])
    assert await loop_free == 0
    assert capsys.readouterr().out.strip().endswith("OK: WebSocket round trip through Kafka")

    peer.echo = False
    failing = asyncio.to_thread(roundtrip.main, ["--url", peer.url, "--timeout", "0.5"])
    assert await failing == 1
    assert "FAIL: no chat message delivered back (a gateway read it from Kafka) within 0.5 s" in (
        capsys.readouterr().err
    )


async def test_a_ready_token_is_presented_for_the_user_it_names(
    peer: EchoPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway takes a token only for the user in the path: with a token made elsewhere
    (the chart's tests.tokenSecret, RS*/ES* setups) the test must connect as its sub. The
    token's trailing newline (a Secret made from a file) would be an invalid header."""
    monkeypatch.setenv("NEXUS_AUTH", "jwt")
    monkeypatch.setenv(roundtrip.TOKEN_ENV, "ready-made\n")
    args = ["--url", peer.url, "--user", "helm-test", "--timeout", "5"]
    assert await asyncio.to_thread(roundtrip.main, args) == 0
    assert peer.users == ["helm-test"]
    assert peer.tokens == ["ready-made"]


async def test_without_a_user_it_connects_as_a_new_one_each_time(
    peer: EchoPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_AUTH", "none")
    monkeypatch.delenv(roundtrip.TOKEN_ENV, raising=False)
    for _ in range(2):
        assert await asyncio.to_thread(roundtrip.main, ["--url", peer.url, "--timeout", "5"]) == 0
    first, second = peer.users
    assert first.startswith("helm-test-") and second.startswith("helm-test-")
    assert first != second


def test_a_ready_token_without_its_user_fails_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEXUS_AUTH", "jwt")
    monkeypatch.setenv(roundtrip.TOKEN_ENV, "ready-made")
    # Nothing listens on port 9: the failure must come before any connection attempt.
    assert roundtrip.main(["--url", "http://127.0.0.1:9", "--timeout", "5"]) == 1
    assert "pass --user with its sub claim" in capsys.readouterr().err
