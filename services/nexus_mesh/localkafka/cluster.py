"""A real local Apache Kafka cluster (KRaft, combined broker+controller nodes) on loopback.

One directory holds everything of one cluster: each node's configuration, data and log, and a
state file naming the processes it started, so ``status`` and ``stop`` find them again from
another process and ``stop`` never touches a process it did not start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from nexus_mesh.errors import LocalKafkaError
from nexus_mesh.localkafka.distribution import (
    DEFAULT_KAFKA_VERSION,
    KafkaDistribution,
    resolve_kafka,
)
from nexus_mesh.localkafka.node_config import RESERVED_PROPERTIES, java_command, write_config
from nexus_mesh.localkafka.orphans import dies_with_this_process
from nexus_mesh.localkafka.probe import every_node_answers
from nexus_mesh.localkafka.state import (
    LOOPBACK,
    STATE_FILE,
    ClusterState,
    ClusterStatus,
    NodeExit,
    NodeState,
    NodeStatus,
    default_home,
    free_port,
    free_ports,
    port_is_free,
    process_start_ticks,
)

__all__ = [
    "AlreadyRunningError",
    "ClusterStatus",
    "LocalKafka",
    "NodeExit",
    "free_port",
    "free_ports",
]

_MAX_PORT = 65535


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of 16 bytes) that never starts with '-'.

    The storage tool's argument parser would read a leading '-' as an option, which is why
    Kafka's own ``random-uuid`` also draws again in that case.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """Start, inspect and stop the local cluster kept in ``home``.

    ``broker_properties`` override the nodes' ``server.properties`` (written at each start):
    tests use it to run a broker configured like a stock one, e.g. with
    ``auto.create.topics.enable=true``. Listener, node and directory settings are the
    cluster's own and cannot be overridden.
    """

    def __init__(
        self,
        home: Path | None = None,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        heap: str = "512m",
        broker_properties: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.home = (home or default_home()).resolve()
        # Tests: nodes this process starts are killed if it dies before stopping them.
        self.die_with_parent = die_with_parent
        self.version = version
        self.heap = heap
        self.broker_properties = dict(broker_properties or {})
        reserved = sorted(set(self.broker_properties) & RESERVED_PROPERTIES)
        if reserved:
            raise LocalKafkaError(
                f"broker properties {', '.join(reserved)} are set by the local cluster itself"
            )
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._log_paths: dict[int, Path] = {}

    # -- state ---------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.home / STATE_FILE

    def _read_state(self) -> ClusterState | None:
        try:
            return ClusterState.load(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise LocalKafkaError(f"unreadable state file {self.state_path}: {exc}") from exc

    def _write_state(self, state: ClusterState) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(state.dump())
        tmp.replace(self.state_path)

    def _is_ours(self, node: NodeState) -> bool:
        """True only if ``node.pid`` is alive and is the very process this cluster started."""
        if node.pid is None or node.started is None:
            return False
        child = self._children.get(node.node_id)
        if child is not None and child.poll() is not None:
            return False
        return process_start_ticks(node.pid) == node.started

    def status(self) -> ClusterStatus:
        state = self._read_state()
        if state is None:
            return ClusterStatus(home=self.home, bootstrap_servers=None, nodes=())
        nodes = tuple(
            NodeStatus(
                node_id=node.node_id,
                bootstrap=f"{LOOPBACK}:{node.broker_port}",
                pid=node.pid,
                running=self._is_ours(node),
                log_path=node.log_path(self.home),
            )
            for node in state.nodes
        )
        return ClusterStatus(home=self.home, bootstrap_servers=state.bootstrap_servers, nodes=nodes)

    def exited_nodes(self) -> list[NodeExit]:
        """The nodes this object started whose process has ended since, with exit codes.

        For whoever keeps running beside its brokers (``nexus dev``): a broker killed under
        it would otherwise go unnoticed, and stay a zombie until this process ends.
        """
        return [
            NodeExit(node_id=node_id, returncode=code, log_path=self._log_paths[node_id])
            for node_id, child in self._children.items()
            if (code := child.poll()) is not None  # reaps it
        ]

    # -- start ---------------------------------------------------------------------------

    def start(
        self, *, nodes: int | None = None, port: int | None = None, timeout: float = 90.0
    ) -> str:
        """Start the cluster (formatting it the first time) and return its bootstrap servers.

        ``port`` is the first broker's port (the others follow it); 0 picks free ports.
        ``nodes`` and ``port`` default to the layout this directory already holds (so a
        cluster first started on free ports starts again on the same ones), else to one node
        on 9092. Nodes of a partly running cluster that died are started again, and only
        those. Raises :class:`AlreadyRunningError` when every node runs (with the layout
        asked for, if any), and
        :class:`LocalKafkaError` on invalid arguments, a taken port, a failed download or
        brokers that do not answer within ``timeout`` seconds.
        """
        _check_arguments(nodes, port, timeout)
        state = self._read_state()
        if state is not None:
            running = [n for n in state.nodes if self._is_ours(n)]
            if running:
                # Before "already running": a caller asking for another layout must not be
                # handed this cluster's bootstrap as if it were what they asked for.
                self._check_same_layout(state, nodes, port)
                if len(running) == len(state.nodes):
                    raise AlreadyRunningError(state.bootstrap_servers)
                return self._start_stopped_nodes(state, timeout)
        distribution = resolve_kafka(self.version)
        if state is None or not self._formatted(state):
            # Nothing was ever stored with that layout: it may change freely.
            node_count = 1 if nodes is None else nodes
            first_port = 9092 if port is None else port
            _check_port_range(node_count, first_port)
            state = self._new_state(node_count, first_port)
            recorded = False
        else:
            self._check_same_layout(state, nodes, port)
            recorded = True
        self._check_ports_free(state.nodes, recorded=recorded)
        self.home.mkdir(parents=True, exist_ok=True)
        for node in state.nodes:
            write_config(self.home, state, node, self.broker_properties)
        if not self._formatted(state):
            for node in state.nodes:
                self._format(distribution, state, node)
        for node in state.nodes:
            self._spawn(distribution, node)
        self._write_state(state)
        try:
            self._wait_ready(state, timeout)
        except LocalKafkaError:
            self.stop()
            raise
        return state.bootstrap_servers

    def _start_stopped_nodes(self, state: ClusterState, timeout: float) -> str:
        """Start the nodes of a running cluster that died, with the layout they had.

        The survivors keep serving: a node that fails to come back is stopped again, the
        others are left alone.
        """
        stopped = [n for n in state.nodes if not self._is_ours(n)]
        self._check_ports_free(stopped, recorded=True)
        # The version the cluster was formatted with, which its survivors run.
        distribution = resolve_kafka(state.version)
        for node in stopped:
            self._spawn(distribution, node)
        self._write_state(state)
        try:
            self._wait_ready(state, timeout)
        except LocalKafkaError:
            self._stop_nodes(state, stopped, timeout=30.0)
            raise
        return state.bootstrap_servers

    def _check_same_layout(self, state: ClusterState, nodes: int | None, port: int | None) -> None:
        """Refuse an explicit --nodes or --port the stored cluster cannot honour.

        Its node ids and controller ports are part of the formatted KRaft quorum; port 0
        ("any free port") and no port at all accept the recorded ones.
        """
        if (nodes is not None and nodes != len(state.nodes)) or (
            port and port != state.nodes[0].broker_port
        ):
            raise LocalKafkaError(
                f"{self.home} holds a {len(state.nodes)}-node cluster on "
                f"{state.bootstrap_servers}: start it without --nodes and --port, pass another "
                "--data-dir, or remove that directory"
            )

    def _check_ports_free(self, nodes: list[NodeState], *, recorded: bool) -> None:
        for node in nodes:
            for taken in (node.broker_port, node.controller_port):
                if port_is_free(taken):
                    continue
                if recorded:
                    # The stored cluster cannot move to other ports, so --port is no way out.
                    raise LocalKafkaError(
                        f"port {taken} on {LOOPBACK}, recorded for node {node.node_id} in "
                        f"{self.home}, is taken: stop what uses it, or pass another --data-dir"
                    )
                raise LocalKafkaError(
                    f"port {taken} on {LOOPBACK} is taken: pass --port or stop what uses it"
                )

    def _new_state(self, nodes: int, port: int) -> ClusterState:
        cluster_id = new_cluster_id()
        node_states = []
        # Every port of the cluster at once, so that no two nodes or listeners share one.
        chosen = iter(free_ports(nodes if port else 2 * nodes))
        for index in range(nodes):
            broker_port = port + index if port else next(chosen)
            node_states.append(
                NodeState(node_id=index + 1, broker_port=broker_port, controller_port=next(chosen))
            )
        return ClusterState(cluster_id=cluster_id, version=self.version, nodes=node_states)

    def _formatted(self, state: ClusterState) -> bool:
        return all(
            (node.directory(self.home) / "data" / "meta.properties").is_file()
            for node in state.nodes
        )

    def _format(
        self, distribution: KafkaDistribution, state: ClusterState, node: NodeState
    ) -> None:
        command = [
            *java_command(self.home, distribution, node, self.heap),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            state.cluster_id,
            "-c",
            str(node.config_path(self.home)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise LocalKafkaError(
                f"formatting KRaft storage of node {node.node_id} failed: "
                + (done.stderr.strip() or done.stdout.strip())[-400:]
            )

    def _spawn(self, distribution: KafkaDistribution, node: NodeState) -> None:
        directory = node.directory(self.home)
        command = [
            *java_command(self.home, distribution, node, self.heap),
            "kafka.Kafka",
            str(node.config_path(self.home)),
        ]
        with (directory / "stdout.log").open("ab") as out:
            child = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=directory,
                # Its own session: the broker outlives `nexus kafka start` and a Ctrl-C
                # in the terminal that started it.
                start_new_session=True,
                preexec_fn=dies_with_this_process() if self.die_with_parent else None,
            )
        self._children[node.node_id] = child
        self._log_paths[node.node_id] = node.log_path(self.home)
        node.pid = child.pid
        node.started = process_start_ticks(child.pid)

    def _wait_ready(self, state: ClusterState, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for node in state.nodes:
                if not self._is_ours(node):
                    tail = _tail(node.log_path(self.home)) or _tail(
                        node.directory(self.home) / "stdout.log"
                    )
                    raise LocalKafkaError(
                        f"broker node {node.node_id} exited during start; its log "
                        f"{node.log_path(self.home)} ends with: {tail}"
                    )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LocalKafkaError(
                    f"brokers did not answer within {timeout:g} s; "
                    f"see {self.home}/node-*/broker.log"
                )
            if asyncio.run(every_node_answers(state, min(remaining, 5.0))):
                return
            time.sleep(0.2)

    # -- node control (tests, chaos) ------------------------------------------------------

    def kill_node(self, node_id: int, *, sig: int = signal.SIGKILL) -> None:
        """Kill one node abruptly, as a crash would."""
        state = self._require_state()
        node = self._node(state, node_id)
        if self._is_ours(node) and node.pid is not None:
            os.kill(node.pid, sig)
            self._reap(node, timeout=30)

    def restart_node(self, node_id: int, *, timeout: float = 60.0) -> None:
        state = self._require_state()
        node = self._node(state, node_id)
        if self._is_ours(node):
            return
        self._spawn(resolve_kafka(state.version), node)
        self._write_state(state)
        self._wait_ready(state, timeout)

    def _require_state(self) -> ClusterState:
        state = self._read_state()
        if state is None:
            raise LocalKafkaError(f"no cluster in {self.home}")
        return state

    @staticmethod
    def _node(state: ClusterState, node_id: int) -> NodeState:
        for node in state.nodes:
            if node.node_id == node_id:
                return node
        raise LocalKafkaError(f"no node {node_id} in this cluster")

    # -- stop ----------------------------------------------------------------------------

    def stop(self, *, timeout: float = 30.0) -> list[int]:
        """Stop the nodes this cluster's state names; returns the ids that were running."""
        state = self._read_state()
        if state is None:
            return []
        return self._stop_nodes(state, state.nodes, timeout=timeout)

    def _stop_nodes(
        self, state: ClusterState, nodes: list[NodeState], *, timeout: float
    ) -> list[int]:
        running = [node for node in nodes if self._is_ours(node)]
        for node in running:
            assert node.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in running:
            self._reap(node, timeout=max(0.1, deadline - time.monotonic()))
        # Forgotten: the nodes stopped here and those whose process is gone. A live process
        # the state names that is not ours (a `nexus kafka start` run since ours died) keeps
        # its record, or it would be orphaned: status "stopped", its port taken.
        forgotten = [
            node
            for node in nodes
            if node.pid is not None
            and (node in running or process_start_ticks(node.pid) != node.started)
        ]
        for node in forgotten:
            node.pid = node.started = None
        if forgotten:
            self._write_state(state)
        return [node.node_id for node in running]

    def _reap(self, node: NodeState, *, timeout: float) -> None:
        """Wait for the node's process to end, killing it when it outstays ``timeout``."""
        deadline = time.monotonic() + timeout
        while self._is_ours(node) and time.monotonic() < deadline:
            child = self._children.get(node.node_id)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.2)
            else:
                time.sleep(0.1)
        if self._is_ours(node) and node.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
        child = self._children.pop(node.node_id, None)
        if child is not None:
            child.wait(timeout=30)
        else:
            deadline = time.monotonic() + 30
            while self._is_ours(node) and time.monotonic() < deadline:
                time.sleep(0.1)


class AlreadyRunningError(LocalKafkaError):
    """``start`` found this cluster already running; ``bootstrap_servers`` says where."""

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(f"a local Kafka is already running at {bootstrap_servers}")
        self.bootstrap_servers = bootstrap_servers


def _check_arguments(nodes: int | None, port: int | None, timeout: float) -> None:
    """Refuse values no cluster can start with before anything is downloaded or spawned."""
    if nodes is not None and nodes < 1:
        raise LocalKafkaError(f"--nodes must be at least 1, not {nodes}")
    if port is not None and not 0 <= port <= _MAX_PORT:
        raise LocalKafkaError(f"--port must be 0-{_MAX_PORT} (0: any free port), not {port}")
    # Not only > 0: NaN compares false with everything and would never time out.
    if not (math.isfinite(timeout) and timeout > 0):
        raise LocalKafkaError(f"--timeout must be a positive number of seconds, not {timeout}")


def _check_port_range(nodes: int, port: int) -> None:
    """Brokers take ``port`` .. ``port + nodes - 1``: all of them must be real ports."""
    last = port + nodes - 1
    if port and last > _MAX_PORT:
        raise LocalKafkaError(
            f"--port {port} with --nodes {nodes} needs ports up to {last}, above {_MAX_PORT}: "
            f"pass --port {_MAX_PORT - nodes + 1} or lower, or --port 0 for any free ports"
        )


def _tail(path: Path, lines: int = 3) -> str:
    try:
        content = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(content[-lines:])[-600:]
