"""The gateway's real ingress, for tests that hand it frames without a socket or a broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ingress_kit import StandInProducer, ingress
from nexus_gateway.connection import Connection, Identity
from nexus_gateway.ingress import Ingress
from nexus_mesh.kafka.producer import EnvelopeProducer


@pytest.fixture
async def make_ingress() -> AsyncIterator[Callable[..., Ingress]]:
    """``make_ingress(**kwargs)``: :func:`ingress_kit.ingress`, its producer stopped after
    the test (a closed port's unless ``producer=`` is given: a test of refusals must never
    get as far as writing)."""
    producers: list[EnvelopeProducer] = []

    def make(**kwargs: Any) -> Ingress:
        kwargs.setdefault("producer", StandInProducer(kwargs.get("codec")))
        producers.append(kwargs["producer"])
        return ingress(**kwargs)

    yield make
    for producer in producers:
        await producer.stop()


@pytest.fixture
def connection() -> Connection:
    return Connection(
        identity=Identity(connection_id="c" * 32, campaign_id="A", user_id="u1"),
        ws=None,  # type: ignore[arg-type]  # never written to: answers are returned
        max_buffer_bytes=1024,
        abort=lambda: None,
    )
