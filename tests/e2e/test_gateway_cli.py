"""``nexus gateway`` whose address is taken stops at once with one line naming the variable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from nexus_mesh.localkafka.cluster import free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run_gateway(
    *, port: int, admin_port: int, auth: str = "none"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "OTEL_"))}
    env.update(
        NEXUS_AUTH=auth,
        NEXUS_GATEWAY_HOST="127.0.0.1",
        NEXUS_GATEWAY_PORT=str(port),
        NEXUS_GATEWAY_ADMIN_PORT=str(admin_port),
        # Never reached: the gateway must stop before it connects to anything.
        NEXUS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        OTEL_TRACES_EXPORTER="none",
    )
    return subprocess.run(
        [sys.executable, "-m", "nexus_mesh.cli", "gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_port_in_use_is_one_line_naming_the_variable(taken_port: int) -> None:
    result = run_gateway(port=taken_port, admin_port=0)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"nexus: NEXUS_GATEWAY_PORT={taken_port}: cannot listen on 127.0.0.1:{taken_port}: "
        "address already in use (stop what listens there or choose another port)"
    ]


def test_admin_port_in_use_is_one_line_naming_the_variable(taken_port: int) -> None:
    result = run_gateway(port=free_port(), admin_port=taken_port)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"nexus: NEXUS_GATEWAY_ADMIN_PORT={taken_port}: cannot listen on "
        f"127.0.0.1:{taken_port}: address already in use (stop what listens there or choose "
        "another port)"
    ]


def test_admin_port_equal_to_the_port_is_refused() -> None:
    port = free_port()
    result = run_gateway(port=port, admin_port=port)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"nexus: NEXUS_GATEWAY_ADMIN_PORT={port}: the same port as NEXUS_GATEWAY_PORT; "
        "the admin listener needs its own (0 turns it off)"
    ]


def test_auth_without_a_key_is_one_line_and_leaves_nothing_open() -> None:
    """Refused before any Kafka client exists: aiokafka used to add errors about unclosed
    clients after the one line that matters."""
    result = run_gateway(port=free_port(), admin_port=0, auth="jwt")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "nexus: NEXUS_AUTH=jwt with HS256 in NEXUS_JWT_ALGORITHMS needs NEXUS_JWT_SECRET"
    ]
