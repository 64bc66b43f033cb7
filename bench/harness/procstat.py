"""CPU seconds and memory of processes and of the whole machine, from /proc."""

from __future__ import annotations

import os
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
OTHER = "rest of the machine"


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (all its threads), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def background_load(seconds: float = 2.0) -> float:
    """Busy cores of the machine before the bench starts anything (other work running)."""
    began, t0 = machine_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (machine_busy_seconds() - began) / (time.perf_counter() - t0)


class CpuWindow:
    """CPU seconds each named process, and the whole machine, used between start and stop.

    ``OTHER`` is the machine's busy time minus the named processes: anything else running
    (another test suite, the kernel's softirq work not charged to a process) shows up there.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._began: dict[str, float | None] = {}
        self._machine = 0.0
        self._t0 = 0.0
        self.seconds: dict[str, float] = {}
        self.wall = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._machine = machine_busy_seconds()
        self._began = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        for name, pid in self._pids.items():
            now, then = cpu_seconds(pid), self._began.get(name)
            if now is not None and then is not None:
                self.seconds[name] = now - then
        busy = machine_busy_seconds() - self._machine
        self.seconds[OTHER] = max(0.0, busy - sum(self.seconds.values()))

    def cores(self, name: str) -> float | None:
        used = self.seconds.get(name)
        return used / self.wall if used is not None and self.wall > 0 else None
