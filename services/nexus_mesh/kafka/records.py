"""Kafka record keys and headers for envelopes (DESIGN.md section 4).

Headers mirror routing and identity so a consumer can filter or route a record without
decoding its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from nexus_mesh.envelope import Envelope

CONTENT_TYPE = "application/vnd.nexus.envelope+avro"
Headers = list[tuple[str, bytes]]
# Headers as Kafka allows them, a null value included (what a consumed record may carry).
RawHeaders = Sequence[tuple[str, bytes | None]]


def record_key(envelope: Envelope) -> bytes:
    """All events of one campaign share a key, hence a partition, hence an order."""
    return envelope.metadata.campaign_id.encode()


def _rfc3339(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


CAMPAIGN_HEADER = "nexus-campaign"


def record_headers(envelope: Envelope) -> Headers:
    meta = envelope.metadata
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", meta.event_id.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_source", meta.source.encode()),
        ("ce_time", _rfc3339(meta.time).encode()),
        ("content-type", CONTENT_TYPE.encode()),
        (CAMPAIGN_HEADER, meta.campaign_id.encode()),
    ]
    optional = (
        ("nexus-user", meta.user_id),
        ("nexus-connection", meta.connection_id),
        ("nexus-correlation", meta.correlation_id),
        ("traceparent", meta.traceparent),
        ("tracestate", meta.tracestate),
    )
    headers.extend((name, value.encode()) for name, value in optional if value)
    return headers


def header(headers: object, name: str) -> str | None:
    """The first value of header ``name`` as text, or None."""
    for key, value in headers or ():  # type: ignore[attr-defined]
        if key == name:
            return bytes(value).decode(errors="replace") if value is not None else None
    return None
