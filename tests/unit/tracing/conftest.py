"""Tracing under test: a real SDK provider whose spans land in memory, synchronously."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from span_capture import Spans


@pytest.fixture(params=["sdk", "lean"])
def spans(request: pytest.FixtureRequest) -> Iterator[Spans]:
    """Every test of the mesh's spans runs on the SDK's spans and on the lean ones."""
    recorded = Spans(request.param)
    yield recorded
    recorded.telemetry.tracer_provider.shutdown()  # type: ignore[attr-defined]
