"""``nexus kafka``: values no broker can start with fail at once, in one line, starting nothing;
``status`` says when a node of a running cluster is down."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import nexus_mesh.cli as cli
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.state import port_is_free, process_start_ticks
from nexus_testkit import wait_until


@pytest.fixture(autouse=True)
def only_kafka_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real `nexus` entry point, without depending on the other command modules.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("kafka",))


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "-1"], "argument --port: -1 is not a port number"),
        (["--port", "70000"], "argument --port: 70000 is not a port number"),
        (["--nodes", "0"], "argument --nodes: must be at least 1"),
        (["--timeout", "-1"], "argument --timeout: must be a positive number of seconds"),
        (["--timeout", "0"], "argument --timeout: must be a positive number of seconds"),
        (["--timeout", "nan"], "argument --timeout: must be a positive number of seconds"),
    ],
)
def test_invalid_start_arguments_are_refused_before_anything_starts(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "kafka"
    # --port 0 where the case is not about the port: a regression must not take 9092.
    port = [] if "--port" in argv else ["--port", "0"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["kafka", "start", *argv, *port, "--data-dir", str(home)])
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert named in stderr.strip().splitlines()[-1]
    assert not home.exists(), "an invalid start created the cluster directory"


def test_ports_past_65535_for_the_other_nodes_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "kafka"
    status = cli.main(
        ["kafka", "start", "--port", "65535", "--nodes", "3", "--data-dir", str(home)]
    )
    assert status != 0
    stderr = capsys.readouterr().err.strip().splitlines()
    assert stderr == [
        "nexus: error: --port 65535 with --nodes 3 needs ports up to 65537, above 65535: "
        "pass --port 65533 or lower, or --port 0 for any free ports"
    ]
    assert not home.exists()


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for a running broker node (status only looks at the process)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_status_fails_and_names_the_node_that_is_down(
    tmp_path: Path, live_process: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "kafka"
    home.mkdir()
    # Nodes 1 and 3 "run" (their pid and start time name a live process), node 2 died.
    alive = {"pid": live_process.pid, "started": process_start_ticks(live_process.pid)}
    nodes = [
        {"node_id": 1, "broker_port": 1, "controller_port": 2, **alive},
        {"node_id": 2, "broker_port": 3, "controller_port": 4},
        {"node_id": 3, "broker_port": 5, "controller_port": 6, **alive},
    ]
    (home / "cluster.json").write_text(
        json.dumps({"cluster_id": "x", "version": "4.0.2", "nodes": nodes})
    )

    status = cli.main(["kafka", "status", "--data-dir", str(home)])

    captured = capsys.readouterr()
    assert status == 1
    assert "node 2: 127.0.0.1:3 stopped" in captured.out
    assert captured.err.strip().splitlines() == [
        f"nexus: node(s) 2 of 3 stopped; `nexus kafka start --data-dir {home}` starts them again"
    ]


def one_node_running_as(process: subprocess.Popen[bytes], home: Path) -> Path:
    """A cluster's data directory whose one node's pid and start time are ``process``'s."""
    home.mkdir()
    node = {"node_id": 1, "broker_port": 1, "controller_port": 2, "pid": process.pid}
    node["started"] = process_start_ticks(process.pid)
    (home / "cluster.json").write_text(
        json.dumps({"cluster_id": "x", "version": "4.0.2", "nodes": [node]})
    )
    return home


def _process_state(pid: int) -> str:
    """Field 3 of ``/proc/PID/stat``: R, S, Z (a zombie) ..."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[0]


def test_a_node_that_died_but_was_not_reaped_is_stopped(
    tmp_path: Path, live_process: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """A broker killed under the ``nexus dev`` that started it stays a zombie until dev
    reaps it, its start time still in ``/proc``: ``status`` said it ran (exit 0), and
    ``start``, which asks the same question, refused to replace it as "already running"."""
    home = one_node_running_as(live_process, tmp_path / "kafka")
    assert cli.main(["kafka", "status", "--data-dir", str(home)]) == 0
    capsys.readouterr()

    live_process.kill()  # and not waited for: its parent has not noticed yet
    wait_until(
        lambda: _process_state(live_process.pid) == "Z", what="the killed node to be a zombie"
    )

    status = cli.main(["kafka", "status", "--data-dir", str(home)])
    assert status == 3, "no node runs"
    assert "node 1: 127.0.0.1:1 stopped" in capsys.readouterr().out
    assert process_start_ticks(live_process.pid) is None


def test_stopping_a_dead_broker_leaves_one_started_since_alone(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    """``nexus dev``'s broker died, and the developer ran ``nexus kafka start`` before dev
    finished stopping: dev's stop must neither kill the new broker nor forget it (status
    would say "stopped" while it holds the port)."""
    home = one_node_running_as(live_process, tmp_path / "kafka")
    devs = LocalKafka(home)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    devs._children[1] = dead  # the broker dev started, dead and reaped

    assert devs.stop(timeout=1) == []
    assert live_process.poll() is None, "the broker started since is not dev's to stop"
    assert json.loads((home / "cluster.json").read_text())["nodes"][0]["pid"] == live_process.pid
    assert LocalKafka(home).status().running


def test_ports_chosen_together_are_distinct() -> None:
    """A gateway's port and its admin port, a broker's and its controller's: taken one at a
    time the kernel may give the same port twice, and the second listener fails to start."""
    from nexus_mesh.localkafka.cluster import free_ports

    ports = free_ports(64)
    assert len(set(ports)) == 64
    assert all(port_is_free(port) for port in ports)
