"""Refused logins, as an operator sees them: log lines, access log and metrics.

A real gateway handler behind a real loopback server; a refusal happens before any Kafka
client is used, so none runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nexus_gateway.app import build_gateway
from nexus_gateway.auth import REFUSAL_CODES, issue_token
from nexus_gateway.server import PathOnlyAccessLogger
from nexus_gateway.state import GATEWAY, Gateway
from nexus_gateway.websocket import websocket_handler
from nexus_mesh.logs import configure_logging
from nexus_mesh.settings import NexusSettings

SECRET = "test-secret-that-is-long-enough-for-hs256!"
FORGED = issue_token(secret_or_key="f" * 64, user_id="alice", campaigns=["demo"], ttl_s=600)
EXPIRED = issue_token(
    secret_or_key=SECRET, user_id="alice", campaigns=["demo"], ttl_s=60, now=1_000_000
)


@dataclass
class Served:
    gateway: Gateway
    server: TestServer

    async def login(self, token: str, *, campaign: str = "demo", user: str = "alice") -> int:
        """The close code the gateway answers a login with."""
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                self.server.make_url(f"/ws/{campaign}/{user}"),
                headers={"Authorization": f"Bearer {token}"},
            ) as ws,
        ):
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE, closing
            return int(closing.data)

    async def stop(self) -> None:
        """Waits for every handler to return, so their access-log lines are written."""
        await self.server.close()

    def metric(self, name: str, **labels: str) -> float:
        for family in self.gateway.metrics.registry.collect():
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        raise AssertionError(f"no {name}{labels}")


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    settings = NexusSettings(auth="jwt", jwt_secret=SECRET, kafka_bootstrap_servers="127.0.0.1:9")
    gateway = build_gateway(settings)
    gateway.kafka_started = True  # what the refusals are checked after
    app = web.Application()
    app[GATEWAY] = gateway
    app.router.add_get("/ws/{campaign_id}/{user_id}", websocket_handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    try:
        yield Served(gateway, server)
    finally:
        await server.close()
        await gateway.dispatcher.stop()
        await gateway.producer.stop()


@pytest.mark.usefixtures("restore_logging")
async def test_each_reason_for_a_refusal_shows_while_a_flood_of_one_is_held_back(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three forged and three expired tokens within seconds: the first forged one used to
    hold back every other refusal, whatever its reason, for 30 s."""
    configure_logging("INFO", fmt="text", service="nexus-gateway")
    for token in (FORGED, EXPIRED, FORGED, EXPIRED, FORGED, EXPIRED):
        assert await served.login(token) == 4001
    await served.stop()
    refusals = [line for line in capsys.readouterr().err.splitlines() if "refused" in line]
    assert len(refusals) == 2, refusals
    assert "refused demo/alice with 4001 (bad_signature): invalid token signature" in refusals[0]
    assert "refused demo/alice with 4001 (expired): token expired" in refusals[1]


async def test_refusals_are_counted_by_reason_and_as_closes(served: Served) -> None:
    for token in (FORGED, FORGED, EXPIRED):
        assert await served.login(token) == 4001
    # a valid token for another campaign
    other = issue_token(secret_or_key=SECRET, user_id="alice", campaigns=["other"], ttl_s=600)
    assert await served.login(other) == 4003
    await served.stop()

    failures = "nexus_gateway_auth_failures_total"
    assert served.metric(failures, code="4001", reason="bad_signature") == 2
    assert served.metric(failures, code="4001", reason="expired") == 1
    assert served.metric(failures, code="4003", reason="campaign_forbidden") == 1
    assert served.metric(failures, code="4001", reason="missing") == 0
    # What the dashboard's sum by (code) reads, as before reasons were counted.
    by_code = {
        code: sum(
            served.metric(failures, code=code, reason=reason)
            for reason, refused_with in REFUSAL_CODES.items()
            if str(refused_with) == code
        )
        for code in ("4001", "4003")
    }
    assert by_code == {"4001": 3, "4003": 1}
    closes = "nexus_gateway_connection_closes_total"
    assert served.metric(closes, code="4001") == 3
    assert served.metric(closes, code="4003") == 1


async def test_the_access_log_says_a_refused_login_was_closed_and_from_where(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="aiohttp.access"):
        assert await served.login(FORGED) == 4001
        await served.stop()
    (line,) = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert line.getMessage().startswith("127.0.0.1 GET /ws/demo/alice 101 closed 4001 ")
    assert FORGED not in line.getMessage()
    assert (line.__dict__["remote"], line.__dict__["close_code"]) == ("127.0.0.1", 4001)
