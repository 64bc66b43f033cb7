"""Tracing under test: a real SDK provider whose spans land in memory, synchronously."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tracing_fakes import Spans


@pytest.fixture
def spans() -> Iterator[Spans]:
    recorded = Spans()
    yield recorded
    recorded.telemetry.tracer_provider.shutdown()  # type: ignore[attr-defined]
