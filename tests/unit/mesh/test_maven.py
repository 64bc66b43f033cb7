"""What a user reads when the local Kafka or Zipkin cannot be fetched or run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nexus_mesh.errors import LocalKafkaError
from nexus_mesh.maven import find_java, java_major, maven_failure

# What Maven 3.8 printed for a version Maven Central does not have (output not a terminal).
MAVEN_OUTPUT = (
    "\x1b[0m\x1b[0m[ERROR] Failed to execute goal on project kafka-runtime: Could not resolve "
    "dependencies for project dev.nexus-mesh.local:kafka-runtime:pom:1: "
    "org.apache.kafka:kafka_2.13:jar:0.0.404 was not found in "
    "https://repo.maven.apache.org/maven2 -> [Help 1]\n"
    "[ERROR] \n"
    "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.\n"
)


def test_the_reason_is_maven_s_first_error_without_colour_codes() -> None:
    reason = maven_failure(MAVEN_OUTPUT)
    assert reason.startswith("Failed to execute goal on project kafka-runtime")
    assert "kafka_2.13:jar:0.0.404 was not found" in reason
    assert "\x1b" not in reason and "[ERROR]" not in reason


def test_without_an_error_line_the_last_line_is_the_reason() -> None:
    assert maven_failure("Downloading...\nBUILD FAILURE\n\n") == "BUILD FAILURE"
    assert maven_failure("") == "Maven gave no reason"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.9" 2023-10-17', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major(output) == major


def test_an_old_java_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``java`` that prints Java 8's version banner: an old runtime is not
    something this machine has to run."""
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LocalKafkaError, match=r"is Java 8; Apache Kafka 4 needs Java 17\+"):
        find_java(needed_by="Apache Kafka 4", error=LocalKafkaError)


def test_a_missing_java_says_what_needs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", os.fspath(tmp_path / "nowhere"))
    with pytest.raises(LocalKafkaError, match="java not found: Zipkin 3 needs a Java 17"):
        find_java(needed_by="Zipkin 3", error=LocalKafkaError)
