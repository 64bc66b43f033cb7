"""The ``ws send`` span says how many target connections took the event, and how many did not
(closing, or closed as too slow: their resume replays it)."""

from __future__ import annotations

import pytest

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.send_span import send_traced
from nexus_mesh.envelope import Envelope, Metadata
from span_capture import Spans


def target(n: int) -> Connection:
    return Connection(
        identity=Identity(connection_id=f"{n:032x}", campaign_id="A", user_id=f"u{n}"),
        ws=None,  # type: ignore[arg-type]  # never written to: send() is the test's
        max_buffer_bytes=1024,
        abort=lambda: None,
    )


@pytest.mark.parametrize(("sent", "dropped"), [(2, None), (1, 1), (0, 2)])
def test_the_span_counts_who_took_the_event(sent: int, dropped: int | None) -> None:
    spans = Spans("lean")
    envelope = Envelope(
        type="chat.message",
        payload={"text": "hi"},
        metadata=Metadata(event_id="e-1", campaign_id="A", source="test", time=1),
    )
    assert (
        send_traced(spans.telemetry.tracer, envelope, [target(1), target(2)], lambda: sent) == sent
    )
    (span,) = spans.finished()
    attributes = dict(span.attributes or {})
    assert attributes["nexus.delivery.targets"] == 2
    assert attributes["nexus.delivery.sent"] == sent
    assert attributes.get("nexus.delivery.dropped") == dropped
