"""The gateway's access log, as an operator reads it."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from nexus_gateway.server import PathOnlyAccessLogger
from nexus_gateway.websocket import GatewaySocket

CLIENT = ("203.0.113.7", 51234)


def logged(
    path: str,
    caplog: pytest.LogCaptureFixture,
    status: int = 200,
    *,
    response: web.StreamResponse | None = None,
    peer: tuple[str, int] | None = CLIENT,
) -> list[str]:
    logger = logging.getLogger("test.access")
    access = PathOnlyAccessLogger(logger, "")
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        peer if name == "peername" else default
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test.access"):
        access.log(
            make_mocked_request("GET", path, transport=transport),
            response or web.Response(status=status),
            0.0012,
        )
    return [record.getMessage() for record in caplog.records]


def test_a_request_is_logged_with_its_client_without_its_query_string(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (line,) = logged("/metrics?token=eyJ.secret.sig", caplog)
    assert line == "203.0.113.7 GET /metrics 200 1.2ms"
    assert "token" not in line and "secret" not in line
    assert logged("/metrics", caplog, peer=None) == ["- GET /metrics 200 1.2ms"]


@pytest.mark.parametrize(
    ("ended_with", "shown"),
    [(4001, "closed 4001"), (1000, "closed 1000"), (1006, "closed 1006")],
)
def test_a_websocket_session_says_how_it_ended(
    ended_with: int, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused token is a 101 as well (the close code needs the handshake): only the
    close code tells it from an accepted session."""
    session = GatewaySocket()
    session.set_status(101)
    session.ended_with = ended_with
    (line,) = logged("/ws/A/u1?token=eyJ.secret.sig&since=0-1", caplog, response=session)
    assert line == f"203.0.113.7 GET /ws/A/u1 101 {shown} 1.2ms"
    assert "secret" not in line


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/readyz?verbose=1"])
def test_probes_are_not_logged(path: str, caplog: pytest.LogCaptureFixture) -> None:
    assert logged(path, caplog, status=503) == []
    assert logged("/metrics", caplog) == ["203.0.113.7 GET /metrics 200 1.2ms"]
