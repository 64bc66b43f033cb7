"""The processes ``nexus dev`` runs, and telling the developer which one ended and why."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexus_mesh.localkafka import LocalKafka


@dataclass(frozen=True)
class Ended:
    """A process of the mesh that ended while the mesh ran."""

    what: str
    returncode: int
    log_path: Path | None = None
    # The broker dev started never ends by its own choice, and without it nothing works:
    # its end is a failure whatever its code, as a crashed gateway's is.
    broker: bool = False

    @property
    def failed(self) -> bool:
        return self.broker or self.returncode != 0

    def __str__(self) -> str:
        code = f"code {self.returncode}"
        if self.returncode < 0:
            with contextlib.suppress(ValueError):
                code += f", killed by {signal.Signals(-self.returncode).name}"
        said = f"{self.what} exited ({code})"
        return f"{said}; its log: {self.log_path}" if self.log_path is not None else said


class Watched:
    """The processes whose end ends ``nexus dev``: its gateway and services, and the broker
    it started (not one it found running: that one is another command's to watch)."""

    def __init__(self, children: list[subprocess.Popen[bytes]], broker: LocalKafka | None) -> None:
        self.children = children
        self.broker = broker

    def ended(self) -> list[Ended]:
        """Every one of them that has ended, the broker first: a dead broker takes services
        with it (they fail to reach Kafka), and it is the cause to name."""
        # Polled as the children are, which also reaps it: unreaped, its zombie looked like
        # a running broker to `nexus kafka status` and `nexus kafka start`. Its log's path
        # names the node, of a data directory that holds several.
        exited = self.broker.exited_nodes() if self.broker is not None else []
        ended = [
            Ended("the local Kafka broker", node.returncode, node.log_path, broker=True)
            for node in exited
        ]
        for child in self.children:
            code = child.poll()
            if code is not None:
                ended.append(Ended(f"`{command_name(child)}`", code))
        return ended


def command_name(child: subprocess.Popen[bytes]) -> str:
    """``nexus gateway``, ``nexus service search``: a child as the developer would run it."""
    args = child.args if isinstance(child.args, list) else [child.args]
    return " ".join(["nexus", *map(str, args[3:])])  # past `python -m nexus_mesh.cli`


def stop_processes(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
