"""What the benchmarks ran on: CPU, memory, kernel, Python, library versions, code."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.harness.report import ROOT


def cpu_model(unknown: str = "unknown") -> str:
    """The first ``model name`` of /proc/cpuinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return unknown


def ram_gib() -> float:
    """MemTotal of /proc/meminfo in GiB (0 when unknown)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def versions(*packages: str) -> str:
    """``"aiohttp 3.10.5, aiokafka 0.11.0"`` for the installed ``packages``."""
    return ", ".join(f"{name} {version(name)}" for name in packages)


def describe(libs: tuple[str, ...], unknown_cpu: str = "unknown") -> str:
    """One line: nproc, CPU model, RAM, kernel, Python and the versions of ``libs``."""
    return (
        f"nproc {os.cpu_count()}, {cpu_model(unknown_cpu)}, RAM {ram_gib():.1f} GiB, Linux "
        f"{platform.release()}, Python {platform.python_version()} ({versions(*libs)})"
    )


def code_revision() -> str:
    """The git revision of the checkout, and whether tracked files have changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head} + uncommitted changes in {len(dirty)} files" if dirty else head
