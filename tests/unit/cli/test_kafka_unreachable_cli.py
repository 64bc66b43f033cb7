"""A one-shot command that cannot reach Kafka says so in one line of its own."""

from __future__ import annotations

import pytest

from nexus_mesh.localkafka.cluster import free_port
from nexus_testkit import run_nexus


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "ensure"],
        ["publish", "chat.message", "--campaign", "c1", "--payload", '{"text": "x"}'],
    ],
)
async def test_an_unreachable_broker_is_one_line(command: list[str]) -> None:
    """aiokafka's own "Unable connect to ..." lines came first, through Python's last-resort
    handler, before the command's message."""
    env = {
        # Nothing listens there: a port just found free on loopback.
        "NEXUS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "NEXUS_KAFKA_REQUEST_TIMEOUT_MS": "2000",
    }
    done = await run_nexus(*command, env=env)
    assert done.status == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("nexus"), lines
