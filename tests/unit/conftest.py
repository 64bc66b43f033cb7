"""What every unit test starts from: none of the caller's NEXUS_* or OTEL_* variables, and
the logging set-up it found, given back afterwards (``configure_logging`` changes the root
logger and aiokafka's level for the whole process)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own shell (NEXUS_AUTH=none, an OTLP endpoint) must not change what a test
    # configures, nor its defaults.
    for name in list(os.environ):
        if name.startswith(("NEXUS_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    aiokafka = logging.getLogger("aiokafka")
    handlers, level, aiokafka_level = list(root.handlers), root.level, aiokafka.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    aiokafka.setLevel(aiokafka_level)
