"""Who may drain a gateway: ``POST /drain`` takes a pod out of service until it is deleted,
so it is not for whoever reaches the admin port.

Requests are built with aiohttp's ``make_mocked_request``, whose transport names the peer
address: a test may only use loopback, and the rule is about callers that are not.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr, ValidationError

from nexus_gateway.health import (
    ADMIN_TOKEN_HEADER,
    current_admin_token,
    drain_refusal,
    is_loopback,
)
from nexus_mesh.settings import NexusSettings

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


@pytest.mark.parametrize("peer", ["127.0.0.6", "::1"])
def test_without_a_token_loopback_may_not_drain_a_gateway_listening_beyond_it(peer: str) -> None:
    """Behind a sidecar proxy (Istio forwards from 127.0.0.6) a loopback peer is anyone who
    reached the pod: a gateway listening on every interface needs its admin token."""
    refused = drain_refusal(request_from(peer), None, listens_on_loopback=False)
    assert refused is not None and refused.status == 403
    assert "NEXUS_GATEWAY_ADMIN_TOKEN" in refused.text


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


def test_a_token_file_is_read_at_each_drain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A mounted Secret's new token is taken without a restart; a file gone since the start
    refuses every caller rather than none."""
    path = tmp_path / "token"
    path.write_text("first-token-0123456789\n")
    settings = NexusSettings(gateway_admin_token_file=path)
    first = current_admin_token(settings)
    assert first is not None and first.get_secret_value() == "first-token-0123456789"
    path.write_text("second-token-0123456789")
    second = current_admin_token(settings)
    assert second is not None and second.get_secret_value() == "second-token-0123456789"
    path.unlink()
    gone = current_admin_token(settings)
    assert gone is not None and gone.get_secret_value() not in ("", "second-token-0123456789")
    assert "cannot read it" in caplog.text


def test_a_token_file_is_checked_at_start(tmp_path: Path) -> None:
    path = tmp_path / "token"
    with pytest.raises(ValidationError, match="cannot read it"):
        NexusSettings(gateway_admin_token_file=path)
    path.write_text("short")
    with pytest.raises(ValidationError, match="at least 16 characters") as short:
        NexusSettings(gateway_admin_token_file=path)
    assert "short" not in str(short.value).replace("at least", "")
    path.write_text("x" * 20)
    with pytest.raises(ValidationError, match="not both"):
        NexusSettings(gateway_admin_token_file=path, gateway_admin_token="y" * 20)


def test_a_header_that_is_not_utf8_is_refused_not_a_fault() -> None:
    """aiohttp hands such header bytes over as lone surrogates: a 401, not a 500."""
    # A stand-in with what drain_refusal reads: make_mocked_request cannot carry such bytes.
    request = SimpleNamespace(headers={ADMIN_TOKEN_HEADER: "p\udce4ss"}, remote="10.1.2.3")
    refused = drain_refusal(request, TOKEN)  # type: ignore[arg-type]
    assert refused is not None and refused.status == 401


def test_a_listen_host_named_localhost_is_loopback_and_every_interface_is_not() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback(None)
