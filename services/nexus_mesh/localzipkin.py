"""A real local Zipkin server to look at the traces of what one just did.

Zipkin's server is one executable jar on Maven Central (``io.zipkin:zipkin-server``,
classifier ``exec``), resolved once with Maven into a cache directory like the local Kafka,
and run on 127.0.0.1 with in-memory storage. Zipkin does not speak OTLP, so the mesh's
processes export to it with OpenTelemetry's Zipkin JSON exporter
(``OTEL_TRACES_EXPORTER=zipkin_json``); :func:`exporter_environment` gives the variables.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from nexus_mesh import maven
from nexus_mesh.errors import NexusError
from nexus_mesh.localkafka.orphans import dies_with_this_process

ZIPKIN_VERSION = "3.5.1"
DEFAULT_PORT = 9411
# Enough for an afternoon of local traffic; in-memory storage drops the oldest beyond it.
MAX_SPANS = 200_000


class LocalZipkinError(NexusError):
    """Zipkin could not be resolved or started (no Java/Maven, no network, port taken)."""


def cache_dir() -> Path:
    return maven.cache_dir("zipkin", override_variable="NEXUS_ZIPKIN_CACHE_DIR")


def exporter_environment(port: int = DEFAULT_PORT) -> dict[str, str]:
    """The ``OTEL_*`` variables that send a process's spans to a local Zipkin."""
    return {
        "OTEL_TRACES_EXPORTER": "zipkin_json",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"http://127.0.0.1:{port}/api/v2/spans",
        # Local traffic is small and one wants every trace of it, quickly.
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }


def resolve_zipkin(version: str = ZIPKIN_VERSION, *, root: Path | None = None) -> Path:
    """The cached server jar of ``version``, downloading it with Maven the first time."""
    directory = (root or cache_dir()) / version
    jar = directory / f"zipkin-server-{version}-exec.jar"
    if jar.is_file():
        return jar
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        # Two commands resolving at once must not interleave their copies.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not jar.is_file():
            _download(version, directory, jar)
    return jar


def _download(version: str, directory: Path, jar: Path) -> None:
    artifact = f"io.zipkin:zipkin-server:{version}:jar:exec"
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        maven.run_maven(
            [
                f"{maven.DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact={artifact}",
                f"-DoutputDirectory={staging}",
            ],
            cwd=Path(staging),
            artifact=artifact,
            error=LocalZipkinError,
        )
        staged = Path(staging) / jar.name
        if not staged.is_file():
            raise LocalZipkinError(f"Maven downloaded {artifact} but {jar.name} is not there")
        staged.rename(jar)


class LocalZipkin:
    """One Zipkin server process on 127.0.0.1, owned by whoever started it."""

    def __init__(self, *, port: int = DEFAULT_PORT, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"{self.url}/zipkin/"

    def answers(self) -> bool:
        """Whether a Zipkin (its API, not merely something) already serves ``url``."""
        try:
            with urllib.request.urlopen(self.url + "/api/v2/services", timeout=2) as response:  # noqa: S310
                return response.status == 200 and isinstance(json.load(response), list)
        except (OSError, ValueError):
            return False

    def start(self, *, timeout: float = 120.0) -> None:
        """Start the server and wait until it answers; raises LocalZipkinError otherwise."""
        if _answers(self.url):
            raise LocalZipkinError(f"something already answers on {self.url}")
        java = maven.find_java(needed_by="Zipkin 3", error=LocalZipkinError)
        jar = resolve_zipkin()
        command = [
            java,
            "-Xms64m",
            "-Xmx384m",
            "-jar",
            str(jar),
            # Loopback only: local traces are nobody else's business.
            "--armeria.ports[0].ip=127.0.0.1",
            f"--armeria.ports[0].port={self.port}",
            "--armeria.ports[0].protocols[0]=http",
            "--zipkin.storage.type=mem",
            f"--zipkin.storage.mem.max-spans={MAX_SPANS}",
            "--logging.level.root=WARN",
        ]
        log_path = self.log_path or Path(os.devnull)
        with log_path.open("ab") as out:
            # Killed with the process that started it (`nexus dev`), were that killed outright:
            # an orphaned Zipkin held its port and ~400 MB.
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=dies_with_this_process(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalZipkinError(
                    f"Zipkin exited with status {self._process.returncode} during start"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if _answers(self.url):
                return
            time.sleep(0.25)
        self.stop()
        raise LocalZipkinError(f"Zipkin did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, *, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False
