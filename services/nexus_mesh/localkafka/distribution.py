"""Resolve a real Apache Kafka broker from Maven Central, once, into a cache directory.

The broker is the ``org.apache.kafka:kafka_2.13`` artifact with its runtime dependencies plus a
log4j2 binding, copied by Maven's dependency plugin. Nothing here is a stand-in: the jars are the
ones the Apache Kafka distribution ships.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nexus_mesh.errors import LocalKafkaError

DEFAULT_KAFKA_VERSION = "4.0.2"
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MIN_JAVA = 17
_MARKER = ".complete"

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.nexus-mesh.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True, kw_only=True)
class KafkaDistribution:
    """A resolved broker: the jars to put on the class path and the Java to run them with."""

    version: str
    libs_dir: Path
    java: str

    @property
    def classpath(self) -> str:
        return str(self.libs_dir / "*")


def cache_root() -> Path:
    override = os.environ.get("NEXUS_KAFKA_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nexus-mesh" / "kafka"


def find_java() -> str:
    """The ``java`` of ``JAVA_HOME`` or ``PATH``; fails clearly when missing or older than 17."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise LocalKafkaError(
            f"java not found: install a Java {MIN_JAVA}+ runtime and put it on PATH or JAVA_HOME"
        )
    probe = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if not match:
        raise LocalKafkaError(f"could not read the version of {candidate}: {probe.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise LocalKafkaError(f"{candidate} is Java {major}; Apache Kafka 4 needs Java {MIN_JAVA}+")
    return candidate


def _find_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalKafkaError(
            "mvn not found: install Apache Maven (it downloads the Kafka broker from Maven Central)"
        )
    return mvn


def _last_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if "[ERROR]" in line and line.strip()]
    return (errors[0] if errors else output.strip().splitlines()[-1:] or ["no output"])[0][:400]


def resolve_kafka(
    version: str = DEFAULT_KAFKA_VERSION, *, cache_dir: Path | None = None
) -> KafkaDistribution:
    """Return the cached broker of ``version``, downloading it with Maven the first time."""
    java = find_java()
    root = (cache_dir or cache_root()) / version
    libs = root / "libs"
    if (root / _MARKER).is_file():
        return KafkaDistribution(version=version, libs_dir=libs, java=java)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        # Two commands resolving at once (e.g. parallel test sessions) must not
        # interleave their copies: the second waits, then finds the marker.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / _MARKER).is_file():
            _download(version, root, libs)
    return KafkaDistribution(version=version, libs_dir=libs, java=java)


def _download(version: str, root: Path, libs: Path) -> None:
    mvn = _find_maven()
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        staged = work / "libs"
        try:
            done = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(work / "pom.xml"),
                    f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                    f"-DoutputDirectory={staged}",
                    "-DincludeScope=runtime",
                ],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                f"downloading org.apache.kafka:kafka_2.13:{version} timed out after 900 s"
            ) from exc
        if done.returncode != 0 or not any(staged.glob("kafka_2.13-*.jar")):
            raise LocalKafkaError(
                f"could not download org.apache.kafka:kafka_2.13:{version} from Maven Central: "
                + _last_error_line(done.stdout + done.stderr)
            )
        if libs.exists():
            shutil.rmtree(libs)
        staged.rename(libs)
    (root / _MARKER).write_text(version + "\n")
