"""What a local cluster is made of, and how to recognise its processes later.

The cluster's layout (ids, ports) and the processes it started are kept in a state file in
its directory, so another ``nexus kafka`` invocation finds them again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
STATE_FILE = "cluster.json"


def free_port() -> int:
    (port,) = free_ports(1)
    return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports. Asked for one at a time, the kernel may hand
    the port it just released back again: all are held until all are chosen."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def default_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nexus-mesh" / "kafka"


@dataclass(kw_only=True)
class NodeState:
    node_id: int
    broker_port: int
    controller_port: int
    pid: int | None = None
    # The kernel's start time of ``pid``: together they name one process, so a reused pid
    # left in a stale state file never makes ``stop`` kill a stranger.
    started: int | None = None

    def directory(self, home: Path) -> Path:
        return home / f"node-{self.node_id}"

    def config_path(self, home: Path) -> Path:
        return self.directory(home) / "server.properties"

    def log_path(self, home: Path) -> Path:
        return self.directory(home) / "broker.log"


@dataclass(kw_only=True)
class ClusterState:
    cluster_id: str
    version: str
    nodes: list[NodeState] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{LOOPBACK}:{n.broker_port}" for n in self.nodes)

    def dump(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def load(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        return cls(
            cluster_id=raw["cluster_id"],
            version=raw["version"],
            nodes=[NodeState(**node) for node in raw["nodes"]],
        )


@dataclass(frozen=True, kw_only=True)
class NodeStatus:
    node_id: int
    bootstrap: str
    pid: int | None
    running: bool
    log_path: Path


@dataclass(frozen=True, kw_only=True)
class NodeExit:
    """A node's process that ended: its exit code as ``subprocess`` gives it (negative: the
    signal that killed it) and the log that may say why."""

    node_id: int
    returncode: int
    log_path: Path


@dataclass(frozen=True, kw_only=True)
class ClusterStatus:
    home: Path
    bootstrap_servers: str | None
    nodes: tuple[NodeStatus, ...]

    @property
    def running(self) -> bool:
        """True when at least one node runs (see ``stopped_nodes`` for the others)."""
        return any(node.running for node in self.nodes)

    @property
    def stopped_nodes(self) -> tuple[int, ...]:
        """Ids of the nodes that do not run: all of them once stopped, some after a crash."""
        return tuple(node.node_id for node in self.nodes if not node.running)


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat``: when the process started, in clock ticks since boot;
    None when there is no such process or it has ended.

    A process that has ended but was not yet reaped by its parent (a zombie: a broker killed
    under a ``nexus dev`` that has not noticed yet) keeps its ``/proc`` entry and start time;
    counted as running, it made ``status`` report a dead broker and ``start`` refuse to
    replace it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in _ENDED_STATES:
        return None
    return int(fields[19])


# Field 3 of ``/proc/PID/stat``: Z is a zombie, X (or x on old kernels) a process being
# torn down; neither will run again.
_ENDED_STATES = frozenset({"Z", "X", "x"})
