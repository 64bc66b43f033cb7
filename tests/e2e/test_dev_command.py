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
from nexus_testkit import eventually, run_nexus

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


async def _running_dev(home: Path, log: Path) -> subprocess.Popen[bytes]:
    """``nexus dev`` past its start (where an ending is a failure to start), its gateway
    ready. Killed outright if it does not get there."""
    port, admin_port = free_ports(2)
    dev = _start_dev(port, admin_port, home, log)
    try:
        async with aiohttp.ClientSession() as http:
            await _until_ready(dev, http, f"http://127.0.0.1:{port}", log)

        async def running() -> bool:
            return "Nexus Mesh is running" in await asyncio.to_thread(log.read_text)

        await eventually(running, what="nexus dev to say the mesh runs")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()
        raise
    return dev


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


def _process_state(pid: int) -> str:
    """Field 3 of ``/proc/PID/stat``: R, S, Z (a zombie) ..."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[0]


@pytest.mark.slow
async def test_dev_stops_and_says_so_when_its_broker_dies(dev_home: Path, tmp_path: Path) -> None:
    """A broker killed under ``nexus dev`` (kill -9, the OOM killer) went unnoticed: dev kept
    running and said nothing, and until dev reaped it (it never did) its zombie counted as
    running, so ``nexus kafka status`` said so and ``nexus kafka start`` would not replace it.
    Now dev stops the mesh, naming the broker and its log, and exits non-zero."""
    log = tmp_path / "dev.log"
    dev = await _running_dev(dev_home, log)
    try:
        (broker,) = LocalKafka(dev_home).status().nodes
        assert broker.running
        assert broker.pid is not None

        # Held still, dev cannot reap its dead broker: the moment before it notices, which
        # `status` from another terminal may fall in, lasts as long as this test needs.
        os.kill(dev.pid, signal.SIGSTOP)
        try:
            os.kill(broker.pid, signal.SIGKILL)
            pid = broker.pid

            async def zombie() -> bool:
                return _process_state(pid) == "Z"

            await eventually(zombie, what="the killed broker to be a zombie of nexus dev")
            status = await run_nexus("kafka", "status", "--data-dir", str(dev_home), env={})
            assert status.status == 3, status.stdout
            assert f"node 1: {broker.bootstrap} stopped" in status.stdout
        finally:
            os.kill(dev.pid, signal.SIGCONT)

        assert await asyncio.to_thread(dev.wait, 90) == 1, log.read_text()
        said = log.read_text()
        assert (
            "nexus dev: the local Kafka broker exited (code -9, killed by SIGKILL); "
            f"its log: {broker.log_path}"
        ) in said, said
        assert "stopping the mesh" in said
        assert "stopped the local Kafka" not in said, "dev did not stop it: it had died"
        assert "Traceback" not in said
        with pytest.raises(ProcessLookupError):
            os.killpg(dev.pid, 0)  # the gateway and search service stopped with it
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(dev.pid, signal.SIGCONT)
        dev.wait()


def _child_running(parent: int, *command: str) -> int:
    """The pid of ``parent``'s child whose command line ends with ``command``."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in map(int, children):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
            if tuple(argv[-len(command) :]) == command:
                return pid
    raise AssertionError(f"no child of {parent} runs {command}: {children}")


def _catches(pid: int, sig: signal.Signals) -> bool:
    """Whether ``pid`` has a handler for ``sig`` (``SigCgt`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


@pytest.mark.slow
async def test_dev_says_which_process_ended_when_one_ends(dev_home: Path, tmp_path: Path) -> None:
    """A service of the mesh that ends, even cleanly, ends the mesh: dev said only "stopping
    the mesh", leaving the developer to guess why. It names the process and its exit code."""
    log = tmp_path / "dev.log"
    dev = await _running_dev(dev_home, log)
    try:
        search = _child_running(dev.pid, "service", "search")

        async def stops_gracefully() -> bool:
            return _catches(search, signal.SIGTERM)

        # Told before it is up, it dies of the signal: a stop, but not a clean one.
        await eventually(stops_gracefully, timeout=60, what="the search service to be up")
        os.kill(search, signal.SIGTERM)

        # It was stopped, not crashed: dev stops the rest as cleanly.
        assert await asyncio.to_thread(dev.wait, 90) == 0, log.read_text()
        said = log.read_text()
        assert "nexus dev: `nexus service search` exited (code 0)" in said
        assert said.index("exited (code 0)") < said.index("stopping the mesh")
        assert "stopped the local Kafka" in said
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait()
