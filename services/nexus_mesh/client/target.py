"""Where and how a client connects: the target of a session and the WebSocket handshake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import aiohttp
from aiohttp import WSMsgType
from yarl import URL

from nexus_mesh.client.frames import WELCOME, Event, MeshConnectError, parse_frame
from nexus_mesh.envelope import REFUSAL_HEADER

AuthVia = Literal["header", "subprotocol", "query"]


@dataclass(frozen=True, slots=True)
class Target:
    """Everything needed to open (or reopen) a session."""

    base_url: str
    campaign_id: str
    user_id: str
    token: str | None = field(repr=False)
    since: str | None
    session: aiohttp.ClientSession | None
    auth_via: AuthVia
    connect_timeout: float
    max_queued_events: int
    max_msg_size: int
    heartbeat: float | None
    # On resume, the previous connection's id: the gateway keeps it, so replies addressed
    # to the old connection (a request still in flight) reach the new one.
    connection_id: str | None = None

    def url(self) -> URL:
        base = URL(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(base.scheme, base.scheme)
        path = "/".join(
            (
                base.path.rstrip("/"),
                "ws",
                quote(self.campaign_id, safe="@:"),
                quote(self.user_id, safe="@:"),
            )
        )
        query: dict[str, str] = {}
        if self.since is not None:
            query["since"] = self.since
            if self.connection_id is not None:
                query["connection_id"] = self.connection_id
        if self.token is not None and self.auth_via == "query":
            query["token"] = self.token
        return base.with_scheme(scheme).with_path(path, encoded=True).with_query(query)

    def headers(self) -> dict[str, str]:
        if self.token is not None and self.auth_via == "header":
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def protocols(self) -> tuple[str, ...]:
        if self.token is not None and self.auth_via == "subprotocol":
            return (f"bearer.{self.token}",)
        return ()


async def handshake(
    session: aiohttp.ClientSession, target: Target
) -> tuple[aiohttp.ClientWebSocketResponse, Event]:
    try:
        ws = await session.ws_connect(
            target.url(),
            headers=target.headers(),
            protocols=target.protocols(),
            max_msg_size=target.max_msg_size,
            heartbeat=target.heartbeat,
        )
    except aiohttp.WSServerHandshakeError as exc:
        # The gateway says why in a header ("gateway is draining", ...); aiohttp's message is
        # only "Invalid response status".
        said = exc.headers.get(REFUSAL_HEADER) if exc.headers is not None else None
        reason = said or exc.message
        raise MeshConnectError(None, reason, status=exc.status) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise MeshConnectError(None, str(exc) or type(exc).__name__) from exc
    try:
        message = await ws.receive()
        if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            reason = message.extra if isinstance(message.extra, str) else ""
            raise MeshConnectError(ws.close_code or 1006, reason or "closed before the welcome")
        try:
            welcome = parse_frame(message.data)
        except ValueError as exc:
            raise MeshConnectError(None, f"bad first frame: {exc}") from None
        if welcome.type != WELCOME:
            raise MeshConnectError(None, f"expected nexus.welcome, got {welcome.type}")
    except BaseException:
        await ws.close()
        raise
    return ws, welcome
