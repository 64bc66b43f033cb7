"""The machine's Java and Maven, as the local Kafka broker and the local Zipkin use them.

Both are Java programs resolved from Maven Central into a cache directory the first time and
run with the machine's Java. What can go wrong is the same for both (no Java, an old Java, no
Maven, a failed download), and the user must read why in one line, so it is found and worded
here once. Each caller raises its own error type, named after what it was starting.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from nexus_mesh.errors import NexusError

MIN_JAVA = 17
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
DOWNLOAD_TIMEOUT_S = 900.0
# Maven colours its log even in batch mode when its output is not a terminal (3.8).
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_PREFIX = "[ERROR]"


def cache_dir(name: str, *, override_variable: str) -> Path:
    """``$override_variable`` if set, else ``nexus-mesh/<name>`` in the XDG cache."""
    override = os.environ.get(override_variable)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nexus-mesh" / name


def find_java(*, needed_by: str, error: type[NexusError]) -> str:
    """The ``java`` of ``JAVA_HOME`` or ``PATH``; ``error`` when missing or older than 17."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise error(
            f"java not found: {needed_by} needs a Java {MIN_JAVA}+ runtime on PATH or JAVA_HOME"
        )
    probe = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    major = java_major(probe.stderr + probe.stdout)
    if major is None:
        raise error(f"could not read the version of {candidate}: {probe.stderr.strip()[:200]}")
    if major < MIN_JAVA:
        raise error(f"{candidate} is Java {major}; {needed_by} needs Java {MIN_JAVA}+")
    return candidate


def java_major(version_output: str) -> int | None:
    """The major version in ``java -version``'s output: 17 for "17.0.9", 8 for "1.8.0_392"."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def run_maven(
    goal_and_properties: list[str], *, cwd: Path, artifact: str, error: type[NexusError]
) -> None:
    """Run one Maven goal that downloads ``artifact``; ``error`` with Maven's reason if it
    fails or takes longer than :data:`DOWNLOAD_TIMEOUT_S`.

    Says so on stderr first: Maven runs quietly, and on a slow link a first start would
    otherwise sit for minutes without a word."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise error(f"mvn not found: install Apache Maven (it downloads {artifact})")
    print(
        f"downloading {artifact} with Maven (once; Maven keeps its copy in ~/.m2)",
        file=sys.stderr,
        flush=True,
    )
    try:
        done = subprocess.run(
            [mvn, "-B", "-q", *goal_and_properties],
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_S,
            check=False,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"downloading {artifact} timed out after {DOWNLOAD_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        reason = maven_failure(done.stdout + done.stderr)
        raise error(f"could not download {artifact} with Maven: {reason}")


def maven_failure(output: str) -> str:
    """The line of Maven's output that says why it failed: its first non-empty error."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    for line in lines:
        if line.startswith(_ERROR_PREFIX) and line[len(_ERROR_PREFIX) :].strip():
            return line[len(_ERROR_PREFIX) :].strip()[:400]
    last = [line for line in lines if line]
    return last[-1][:400] if last else "Maven gave no reason"
