"""Who may drain a gateway: ``POST /drain`` takes a pod out of service until it is deleted,
so it is not for whoever reaches the admin port.

Requests are built with aiohttp's ``make_mocked_request``, whose transport names the peer
address: a test may only use loopback, and the rule is about callers that are not.
"""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr

from nexus_gateway.health import ADMIN_TOKEN_HEADER, drain_refusal

TOKEN = SecretStr("s3cret-admin-token-0123456789")


def request_from(peer: str, headers: dict[str, str] | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request("POST", "/drain", headers=headers or {}, transport=transport)


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
def test_without_a_token_loopback_may_drain(peer: str) -> None:
    assert drain_refusal(request_from(peer), None) is None


@pytest.mark.parametrize("peer", ["10.1.2.3", "203.0.113.7", "fd00::5"])
def test_without_a_token_no_other_address_may(peer: str) -> None:
    refused = drain_refusal(request_from(peer), None)
    assert refused is not None and refused.status == 403
    assert "NEXUS_GATEWAY_ADMIN_TOKEN" in refused.text


def test_with_a_token_only_the_token_counts() -> None:
    right = {ADMIN_TOKEN_HEADER: TOKEN.get_secret_value()}
    wrong = {ADMIN_TOKEN_HEADER: "s3cret-admin-token-012345678"}
    assert drain_refusal(request_from("10.1.2.3", right), TOKEN) is None
    for peer in ("10.1.2.3", "127.0.0.1"):
        for headers in ({}, wrong):
            refused = drain_refusal(request_from(peer, headers), TOKEN)
            assert refused is not None and refused.status == 401, (peer, headers)
