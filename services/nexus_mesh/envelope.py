"""The envelope every event travels in, on the socket and on Kafka (DESIGN.md section 2).

These are plain slotted dataclasses rather than pydantic models: the gateway builds one per
Kafka record on its hot path, and validation already happened where the data entered the
mesh (the codec for bytes, the registry's schemas for client JSON).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Importable from here as it always was.
from nexus_mesh.ws_protocol import PROTOCOL_PREFIX as PROTOCOL_PREFIX

TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# A client-chosen event_id or correlation_id, as the gateway accepts it (and `nexus publish`).
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# A campaign or user id in the WebSocket path /ws/{campaign_id}/{user_id}.
PATH_ID_RE = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}$")
# The response header a gateway's refused WebSocket handshake says why in: a client library
# seldom exposes the body of a failed handshake (aiohttp does not), its headers it does.
REFUSAL_HEADER = "Nexus-Refusal"
BROADCAST_CAMPAIGN = "*"


@dataclass(slots=True, kw_only=True)
class Metadata:
    """Identity, routing and trace context of one event.

    Clients may set only ``event_id``, ``correlation_id`` and ``attributes``; the gateway
    fills the rest from the authenticated connection.
    """

    event_id: str
    campaign_id: str
    source: str
    time: int
    """Milliseconds since the Unix epoch (kept an int: no datetime on the hot path)."""
    correlation_id: str | None = None
    user_id: str | None = None
    connection_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def with_trace_context(self, traceparent: str | None, tracestate: str | None) -> Metadata:
        """A copy naming another parent span; every other field shared with this one.

        Spelled out rather than ``dataclasses.replace``, which looks the fields up on each
        call: a traced producer makes one per record (tests/unit/mesh/test_envelope.py checks that
        the copy misses no field).
        """
        return Metadata(
            event_id=self.event_id,
            campaign_id=self.campaign_id,
            source=self.source,
            time=self.time,
            correlation_id=self.correlation_id,
            user_id=self.user_id,
            connection_id=self.connection_id,
            traceparent=traceparent,
            tracestate=tracestate,
            attributes=self.attributes,
        )


@dataclass(slots=True, kw_only=True)
class Envelope:
    """``{type, payload, metadata}``; ``payload`` holds Avro-native Python values."""

    type: str
    payload: dict[str, Any]
    metadata: Metadata

    def with_metadata(self, metadata: Metadata) -> Envelope:
        """A copy with other metadata; type and payload shared with this one."""
        return Envelope(type=self.type, payload=self.payload, metadata=metadata)


def is_event_type(name: str) -> bool:
    """Whether ``name`` is a well-formed event type (not whether it is registered)."""
    return TYPE_RE.fullmatch(name) is not None


def new_event_id() -> str:
    """A fresh ``metadata.event_id``: 32 hex digits, within every id rule of DESIGN.md."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """``metadata.time`` for an event made now: milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
