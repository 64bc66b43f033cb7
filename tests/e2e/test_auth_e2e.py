"""Refused connections get the close codes of DESIGN.md section 5; accepted ones work."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mesh_processes import JWT_SECRET, Mesh
from nexus_gateway.auth import issue_token
from nexus_mesh.client import MeshClient, MeshClosedError, MeshConnectError
from nexus_testkit import eventually


@pytest.fixture
def url(mesh: Mesh) -> str:
    gateway = mesh.gateway()
    assert gateway.url
    return gateway.url


async def refused(url: str, *, token: str | None, campaign: str = "A", user: str = "u1") -> int:
    with pytest.raises(MeshConnectError) as caught:
        async with await MeshClient.connect(url, campaign_id=campaign, user_id=user, token=token):
            pass
    assert caught.value.close_code is not None
    return caught.value.close_code


async def test_missing_token_is_4001(url: str) -> None:
    assert await refused(url, token=None) == 4001


async def test_a_refused_client_costs_the_gateway_little(url: str) -> None:
    """An unauthenticated client that asks for compression and never answers the close:
    the gateway negotiates none (nothing to inflate) and drops the socket after a second
    instead of holding it for aiohttp's default 10 s."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{url}/ws/A/u1", compress=15, autoclose=False)
        assert ws.compress == 0, "compression negotiated with an unauthenticated client"
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4001)
        began = time.monotonic()
        # No close reply: the gateway gives up on it and ends the connection.
        ended = await ws.receive(timeout=15)
        assert ended.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), ended
        assert time.monotonic() - began < 4, "a refused socket held open"


async def test_expired_token_is_4001(url: str) -> None:
    expired = issue_token(
        secret_or_key=JWT_SECRET, user_id="u1", campaigns=["A"], ttl_s=60, now=1_000_000
    )
    assert await refused(url, token=expired) == 4001


async def test_token_of_another_user_is_4001(mesh: Mesh, url: str) -> None:
    assert await refused(url, token=mesh.token("mallory", ["A"]), user="u1") == 4001


async def test_token_signed_with_another_key_is_4001(url: str) -> None:
    forged = issue_token(secret_or_key="f" * 64, user_id="u1", campaigns=["A"], ttl_s=600)
    assert await refused(url, token=forged) == 4001


async def test_forbidden_campaign_is_4003(mesh: Mesh, url: str) -> None:
    assert await refused(url, token=mesh.token("u1", ["B"]), campaign="A") == 4003


@pytest.mark.parametrize("auth_via", ["header", "subprotocol", "query"])
async def test_valid_token_in_each_place_is_accepted(mesh: Mesh, url: str, auth_via: str) -> None:
    async with await MeshClient.connect(
        url,
        campaign_id="A",
        user_id="u1",
        token=mesh.token("u1", ["*"]),
        auth_via=auth_via,  # type: ignore[arg-type]
    ) as client:
        assert client.welcome["user_id"] == "u1"
        ack = await client.emit("chat.message", {"text": "hello"})
        assert ack.topic.endswith(".clients")


async def test_a_connection_is_closed_4001_when_its_token_expires(url: str) -> None:
    """The token is checked at the handshake; the connection must not outlive it. Issued so
    that it expires (with the gateway's 10 s leeway) about five seconds after connecting:
    time enough for the handshake on a loaded machine, which would refuse it otherwise."""
    token = issue_token(
        secret_or_key=JWT_SECRET, user_id="u1", campaigns=["A"], ttl_s=1, now=time.time() - 6
    )
    async with await MeshClient.connect(url, campaign_id="A", user_id="u1", token=token) as client:
        began = time.monotonic()
        with pytest.raises(MeshClosedError):
            await client.next_event(timeout=20)
        assert client.close_code == 4001
        assert time.monotonic() - began < 10
    # Counted as an expiry, not as a refused (possibly hostile) connection.
    metrics = await asyncio.to_thread(_get, url + "/metrics")
    assert "nexus_gateway_token_expiry_closes_total 1.0" in metrics
    assert _samples(metrics, "nexus_gateway_auth_failures_total")
    assert not any(_samples(metrics, "nexus_gateway_auth_failures_total").values())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _samples(metrics: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == name
    }


async def test_a_refusal_is_logged_with_its_reason_and_never_the_token(mesh: Mesh) -> None:
    """Each reason shows at once, even right after another: the first refusal used to hide
    the others for 30 s. The access log tells the refused session (closed 4001) and its
    client apart from an accepted one."""
    gateway = mesh.gateway()
    assert gateway.url
    forged = issue_token(secret_or_key="f" * 64, user_id="u1", campaigns=["A"], ttl_s=600)
    expired = issue_token(
        secret_or_key=JWT_SECRET, user_id="u1", campaigns=["A"], ttl_s=60, now=1_000_000
    )
    for token in (forged, expired, forged, expired):
        assert await refused(gateway.url, token=token) == 4001

    async def in_log() -> bool:
        log = gateway.log()
        return (
            "refused A/u1 with 4001 (expired): token expired" in log
            and log.count("127.0.0.1 GET /ws/A/u1 101 closed 4001") == 4
        )

    await eventually(in_log, what="both refusals and their sessions in the gateway's log")
    log = gateway.log()
    assert log.count("refused A/u1 with 4001 (bad_signature): invalid token signature") == 1
    assert log.count("refused A/u1 with 4001 (expired): token expired") == 1
    assert forged not in log
    assert forged.split(".")[2] not in log, "not even the signature"
    metrics = _samples(
        await asyncio.to_thread(_get, gateway.url + "/metrics"),
        "nexus_gateway_auth_failures_total",
    )
    assert metrics[frozenset({("code", "4001"), ("reason", "bad_signature")})] == 2
    assert metrics[frozenset({("code", "4001"), ("reason", "expired")})] == 2


async def test_only_the_allowed_browser_origins_may_connect(mesh: Mesh) -> None:
    """Cross-site WebSocket hijacking: a page on another site opening a socket to the gateway
    (with the browser's ambient access, or to a loopback `nexus dev` without auth) is refused
    before anything is read; the allowed origin, and clients that send none, connect."""
    gateway = mesh.gateway(NEXUS_GATEWAY_ALLOWED_ORIGINS='["https://app.example"]')
    assert gateway.url
    headers = {"Authorization": f"Bearer {mesh.token('u1', ['A'])}"}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as hijack:
            await session.ws_connect(
                f"{gateway.url}/ws/A/u1", headers={**headers, "Origin": "https://evil.example"}
            )
        assert hijack.value.status == 403
        assert hijack.value.headers is not None
        assert hijack.value.headers["Nexus-Refusal"] == "this origin may not open a connection"
        for origin in ({"Origin": "https://APP.example"}, {}):
            ws = await session.ws_connect(f"{gateway.url}/ws/A/u1", headers={**headers, **origin})
            welcome = await ws.receive_json(timeout=10)
            assert welcome["type"] == "nexus.welcome", origin
            await ws.close()
    assert "origin 'https://evil.example' is not allowed" in gateway.log()
