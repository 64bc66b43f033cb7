"""The chart's ``helm test`` program against real gateway and search processes: what an
operator runs after an install passes on a working mesh and fails, saying why, on a broken
one. (The chart runs it in a pod; here it runs as a process with the pod's environment.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from mesh_processes import Mesh


async def helm_test(
    mesh: Mesh, url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nexus_mesh.operator.roundtrip", "--url", url, *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        env=mesh.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_round_trip_passes_through_gateway_kafka_and_search(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    mesh.service("search")
    assert gateway.url
    # It signs its own token with the gateways' secret, as the chart's test pod does.
    done = await helm_test(mesh, gateway.url, "--search", "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("OK: WebSocket round trip through Kafka")


async def test_a_missing_search_service_fails_the_search_step(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    done = await helm_test(mesh, gateway.url, "--search", "--timeout", "8")
    assert done.returncode == 1
    # The step it waited for, so the operator knows where to look.
    assert done.stderr.strip() == (
        "FAIL: no answer to the search (the search service's reply) within 8 s"
    ), done.stderr


async def test_a_token_the_gateway_refuses_fails_with_its_reason(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    done = await helm_test(mesh, gateway.url, NEXUS_JWT_SECRET="another-secret-" + "y" * 48)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "FAIL: cannot join the mesh (close code 4001): invalid token signature"
    ), done.stderr


async def test_a_ready_token_passes_for_the_user_it_names_only(mesh: Mesh) -> None:
    """What the chart's test pod does with tests.tokenSecret (RS*/ES* setups): a token made
    beforehand, for tests.user. The gateway takes it for that user alone, so the test must
    connect as the token's subject."""
    gateway = mesh.gateway()
    assert gateway.url
    token = mesh.token("helm-test", ["helm-test"])
    passed = await helm_test(mesh, gateway.url, "--user", "helm-test", NEXUS_TEST_TOKEN=token)
    assert passed.returncode == 0, passed.stderr

    other = await helm_test(mesh, gateway.url, "--user", "someone-else", NEXUS_TEST_TOKEN=token)
    assert other.returncode == 1
    assert other.stderr.strip().endswith("token subject does not match the user"), other.stderr
