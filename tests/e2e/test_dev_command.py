"""``nexus dev`` as a user runs it: its own broker, gateway, search service (or a service of
the user's own, ``--service``) and demo page, and nothing left running after it is told to
stop.

It starts its own single-node broker (on a free port, in a temporary directory) besides the
session's: what is under test is that broker's life cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from nexus_mesh.client import MeshClient
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.cluster import free_port, free_ports
from nexus_testkit import eventually

# A service of the user's own, in the current directory of `nexus dev --service
# greeter:service --no-search`: it answers search requests in search's place.
GREETER = """
from nexus_mesh.envelope import Envelope
from nexus_mesh.service import Context, Service

service = Service(name="greeter", domain="search")


@service.handler("search.requested")
async def greet(event: Envelope, ctx: Context) -> None:
    hit = {"id": "greeter", "title": "hello from greeter", "score": 1.0, "snippet": None}
    await ctx.reply("search.completed", {"query": event.payload["query"], "hits": [hit]})
"""


def _start_dev(
    port: int, admin_port: int, home: Path, log_path: Path, *, own_service: Path | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "OTEL_"))}
    env.update(NEXUS_TOPIC_PREFIX=f"dev{uuid.uuid4().hex[:8]}", NEXUS_SERVICE_METRICS_PORT="0")
    command = [sys.executable, "-m", "nexus_mesh.cli", "dev", "--port", str(port), "--no-traces"]
    command += ["--admin-port", str(admin_port)]
    command += ["--kafka-port", str(free_port()), "--kafka-data-dir", str(home)]
    if own_service is not None:
        (own_service / "greeter.py").write_text(GREETER)
        command += ["--service", "greeter:service", "--no-search"]
    with log_path.open("wb") as log:
        # A group of its own: the gateway and services it starts are in it, so a failed test
        # can stop them too, and a passed one can check none is left.
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=own_service,
        )


async def _until_ready(
    dev: subprocess.Popen[bytes], http: aiohttp.ClientSession, url: str, log: Path
) -> None:
    """Wait for the gateway ``nexus dev`` started; fail at once if dev exits meanwhile."""

    async def ready() -> bool:
        if dev.poll() is not None:
            raise AssertionError(await asyncio.to_thread(log.read_text))
        try:
            async with http.get(f"{url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(ready, timeout=180, what="nexus dev's gateway to be ready")


@pytest.fixture
def dev_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "kafka"
    try:
        yield home
    finally:
        LocalKafka(home).stop()  # whatever the test left behind


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "own_service"),
    [(signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["SIGTERM", "SIGHUP-own-service"],
)
async def test_dev_serves_the_mesh_and_a_signal_stops_all_of_it(
    sig: signal.Signals, own_service: bool, dev_home: Path, tmp_path: Path
) -> None:
    port, admin_port = free_ports(2)
    dev = _start_dev(
        port,
        admin_port,
        dev_home,
        tmp_path / "dev.log",
        own_service=tmp_path if own_service else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await _until_ready(dev, http, url, tmp_path / "dev.log")
            async with http.get(f"{url}/") as page:
                assert page.status == 200
                assert "text/html" in page.headers["Content-Type"]
            async with http.get(f"http://127.0.0.1:{admin_port}/stats") as stats:
                assert stats.status == 200, "the admin listener is where --admin-port says"
            # Auth is off, so another site's page in the developer's browser is turned away;
            # the demo page's own origin is not.
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await http.ws_connect(f"{url}/ws/demo/me", headers={"Origin": "https://x.test"})
            assert foreign.value.status == 403
            async with http.ws_connect(f"{url}/ws/demo/me", headers={"Origin": url}) as page_ws:
                assert (await page_ws.receive_json(timeout=10))["type"] == "nexus.welcome"
        async with MeshClient.connect(url, campaign_id="demo", user_id="me") as client:
            reply = await client.request("search", {"query": "password reset"}, timeout=30)
        assert reply.type == "search.completed"
        assert reply.payload["hits"]
        answered_by = reply.payload["hits"][0]["title"]
        assert (answered_by == "hello from greeter") is own_service, answered_by
        assert LocalKafka(dev_home).status().running

        dev.send_signal(sig)

        async def stopping() -> bool:
            return "stopping the mesh" in (tmp_path / "dev.log").read_text()

        await eventually(stopping, what="nexus dev to begin its stop")
        # Told twice, as an impatient user does: the second must not cut the stop short
        # (it left the broker running, with nobody to stop it).
        dev.send_signal(sig)
        assert await asyncio.to_thread(dev.wait, 90) == 0, (tmp_path / "dev.log").read_text()
        assert not LocalKafka(dev_home).status().running, "the broker dev started still runs"
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.get(f"{url}/healthz")  # the gateway process is gone too
        log = (tmp_path / "dev.log").read_text()
        assert "stopped the local Kafka" in log
        # On its new broker the search service joined without aiokafka's ERROR about a
        # coordinator not there yet: the service waited for it before its consumer looked.
        assert "GroupCoordinatorNotAvailable" not in log
        assert "Traceback" not in log
        if own_service:
            assert "Service greeter:service metrics: http://127.0.0.1:" in log
            assert "service search" not in log, "--no-search left search out"
        with pytest.raises(ProcessLookupError):
            os.killpg(dev.pid, 0)  # neither the gateway nor the search service is left
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()


@pytest.mark.slow
async def test_dev_killed_outright_takes_its_processes_and_broker_with_it(
    dev_home: Path, tmp_path: Path
) -> None:
    """An IDE's stop button or the OOM killer ends ``nexus dev`` with SIGKILL, which it cannot
    handle: its gateway, search service and broker went on holding their ports, and the next
    ``nexus dev`` reported the old gateway ready before failing on its port. They die with it
    now, and a second ``nexus dev`` on ports in use is refused at once, naming the port."""
    port, admin_port = free_ports(2)
    dev = _start_dev(port, admin_port, dev_home, tmp_path / "dev.log")
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await _until_ready(dev, http, url, tmp_path / "dev.log")
        second = await asyncio.to_thread(
            subprocess.run,
            [
                *(sys.executable, "-m", "nexus_mesh.cli", "dev", "--port", str(port)),
                *("--no-traces", "--kafka-data-dir", str(tmp_path / "second")),
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "OTEL_"))},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert f"the gateway port 127.0.0.1:{port} is in use" in second.stderr
        assert "started Apache Kafka" not in second.stdout, "refused before starting a broker"

        dev.kill()
        dev.wait()

        async def all_gone() -> bool:
            try:
                os.killpg(dev.pid, 0)
            except ProcessLookupError:
                return not LocalKafka(dev_home).status().running
            return False

        await eventually(all_gone, timeout=30, what="the gateway, service and broker to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()
