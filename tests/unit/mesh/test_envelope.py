"""The envelope's copies: a traced producer rewrites only the trace context of what it sends."""

from __future__ import annotations

import dataclasses

from nexus_mesh.envelope import Envelope, Metadata

# A value for every field, none of them the default: a field added to Metadata fails
# test_every_field_is_set until it is added here, and then the copy must carry it.
VALUES: dict[str, object] = {
    "event_id": "e-1",
    "campaign_id": "c-1",
    "source": "nexus-gateway/gw-1",
    "time": 1_764_000_000_000,
    "correlation_id": "r-1",
    "user_id": "u-1",
    "connection_id": "gw-1.c1",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "vendor=1",
    "attributes": {"k": "v"},
}
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_every_field_is_set() -> None:
    assert set(VALUES) == {f.name for f in dataclasses.fields(Metadata)}


def test_trace_context_copy_changes_only_the_trace_fields() -> None:
    meta = Metadata(**VALUES)  # type: ignore[arg-type]
    copy = meta.with_trace_context(PARENT, None)
    assert copy == dataclasses.replace(meta, traceparent=PARENT, tracestate=None)
    assert copy is not meta
    assert meta.traceparent == VALUES["traceparent"]  # the original is left as it was
    assert meta.tracestate == "vendor=1"


def test_metadata_copy_keeps_type_and_payload() -> None:
    meta = Metadata(**VALUES)  # type: ignore[arg-type]
    envelope = Envelope(type="chat.message", payload={"text": "hi"}, metadata=meta)
    other = meta.with_trace_context(PARENT, "vendor=2")
    copy = envelope.with_metadata(other)
    assert copy == dataclasses.replace(envelope, metadata=other)
    assert envelope.metadata is meta
