"""The gateway's access log, as an operator reads it."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from nexus_gateway.server import PathOnlyAccessLogger


def logged(path: str, caplog: pytest.LogCaptureFixture, status: int = 200) -> list[str]:
    logger = logging.getLogger("test.access")
    access = PathOnlyAccessLogger(logger, "")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test.access"):
        access.log(make_mocked_request("GET", path), web.Response(status=status), 0.0012)
    return [record.getMessage() for record in caplog.records]


def test_a_request_is_logged_without_its_query_string(caplog: pytest.LogCaptureFixture) -> None:
    (line,) = logged("/ws/A/u1?token=eyJ.secret.sig&since=0-1", caplog, status=101)
    assert line == "GET /ws/A/u1 101 1.2ms"
    assert "token" not in line and "secret" not in line


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/readyz?verbose=1"])
def test_probes_are_not_logged(path: str, caplog: pytest.LogCaptureFixture) -> None:
    assert logged(path, caplog, status=503) == []
    assert logged("/metrics", caplog) == ["GET /metrics 200 1.2ms"]
