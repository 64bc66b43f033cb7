"""Resolve a real Apache Kafka broker from Maven Central, once, into a cache directory.

The broker is the ``org.apache.kafka:kafka_2.13`` artifact with its runtime dependencies plus a
log4j2 binding, copied by Maven's dependency plugin. Nothing here is a stand-in: the jars are the
ones the Apache Kafka distribution ships.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nexus_mesh import maven
from nexus_mesh.errors import LocalKafkaError
from nexus_mesh.maven import cache_dir

DEFAULT_KAFKA_VERSION = "4.0.2"
LOG4J_VERSION = "2.24.3"
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
    return cache_dir("kafka", override_variable="NEXUS_KAFKA_CACHE_DIR")


def find_java() -> str:
    """The ``java`` of ``JAVA_HOME`` or ``PATH``; fails clearly when missing or older than 17."""
    return maven.find_java(needed_by="Apache Kafka 4", error=LocalKafkaError)


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
    artifact = f"org.apache.kafka:kafka_2.13:{version}"
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        staged = work / "libs"
        maven.run_maven(
            [
                "-f",
                str(work / "pom.xml"),
                f"{maven.DEPENDENCY_PLUGIN}:copy-dependencies",
                f"-DoutputDirectory={staged}",
                "-DincludeScope=runtime",
            ],
            cwd=work,
            artifact=artifact,
            error=LocalKafkaError,
        )
        if not any(staged.glob("kafka_2.13-*.jar")):
            raise LocalKafkaError(f"Maven downloaded {artifact} but its jar is not in {staged}")
        if libs.exists():
            shutil.rmtree(libs)
        staged.rename(libs)
    (root / _MARKER).write_text(version + "\n")
