"""The ``ws send`` span of one event handed to its target connections (DESIGN.md section 8).

Live delivery and a resume's replay hand events over the same way, so they trace it the same
way: one span per event, whatever the number of targets, saying how many took the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opentelemetry import trace

from nexus_gateway.connection import Connection
from nexus_mesh.envelope import Envelope
from nexus_mesh.tracing.spans import DROPPED, SENT, ws_send_span


def send_traced(
    tracer: trace.Tracer,
    envelope: Envelope,
    targets: Sequence[Connection],
    send: Callable[[], int],
) -> int:
    """Run ``send`` (it returns how many of ``targets`` took the frame) under the event's
    ``ws send`` span, a child of the current (consumer) span."""
    meta = envelope.metadata
    with ws_send_span(
        tracer,
        event_type=envelope.type,
        campaign_id=meta.campaign_id,
        event_id=meta.event_id,
        targets=len(targets),
        connection_id=targets[0].id if len(targets) == 1 else None,
    ) as span:
        sent = send()
        if span.is_recording():
            span.set_attribute(SENT, sent)
            if sent < len(targets):
                # Closing, or closed just now as too slow (4008): not a failure of the mesh,
                # as the connection's resume replays the event (a ws send of its own, marked
                # replay), but a trace reader must see this one did not reach them all.
                span.set_attribute(DROPPED, len(targets) - sent)
    return sent
