"""Every command that makes Kafka clients refuses a missing TLS file at start: one line naming
the variable and the file, exit status 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_testkit import run_nexus


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "ensure"],
        ["publish", "search.requested", "--campaign", "c1", "--payload", '{"query": "x"}'],
        ["gateway"],
        ["service", "search"],
    ],
)
async def test_a_missing_ca_file_stops_the_command_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    cafile = tmp_path / "absent-ca.pem"
    env = dict(
        NEXUS_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        NEXUS_KAFKA_SSL_CAFILE=str(cafile),
        NEXUS_KAFKA_SASL_MECHANISM="PLAIN",
        NEXUS_KAFKA_SASL_USERNAME="mesh",
        NEXUS_KAFKA_SASL_PASSWORD="sasl-password-never-shown",
        # Never reached: each command must stop before it listens or connects.
        NEXUS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        NEXUS_AUTH="none",
        NEXUS_GATEWAY_HOST="127.0.0.1",
        NEXUS_GATEWAY_PORT="0",
        NEXUS_GATEWAY_ADMIN_PORT="0",
        NEXUS_SERVICE_METRICS_PORT="0",
        OTEL_TRACES_EXPORTER="none",
    )
    result = await run_nexus(*command, env=env)
    prefix = "nexus publish" if command[0] == "publish" else "nexus"
    assert result.stderr.splitlines() == [
        f"{prefix}: invalid configuration: NEXUS_KAFKA_SSL_CAFILE={str(cafile)!r}: cannot read "
        "it (no such file or directory)"
    ]
    assert result.status == 2
