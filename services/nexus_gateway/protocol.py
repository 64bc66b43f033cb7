"""The client protocol's fixed vocabulary: error codes, close codes and protocol frames.

Protocol frames (``nexus.*``) are built here as bytes, ready for ``send_frame``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from enum import StrEnum
from typing import Any

import orjson

from nexus_mesh.envelope import Envelope, new_event_id, now_ms
from nexus_mesh.errors import NexusError

# Shared with nexus_mesh.client, which reads them; CloseCode stays importable from here.
from nexus_mesh.ws_protocol import ACK, ERROR, WELCOME
from nexus_mesh.ws_protocol import CloseCode as CloseCode


class ErrorCode(StrEnum):
    BAD_FRAME = "bad_frame"
    TOO_LARGE = "too_large"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN_TYPE = "forbidden_type"
    SCHEMA_INVALID = "schema_invalid"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    # Not a rejection: Kafka took the write but has not confirmed it, and an idempotent
    # producer keeps retrying, so it may still land. Every other code means "not written".
    UNCONFIRMED = "unconfirmed"
    # A fault of the gateway's own (logged with the event id), not of the event: it was not
    # acknowledged, and resending it as it is would most likely fail the same way.
    INTERNAL = "internal"


RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.UNCONFIRMED})
# What the client did wrong (HTTP's 4xx): the gateway worked as it should, so its span is not
# marked failed; the other codes are the mesh's own trouble (5xx).
CLIENT_FAULTS = frozenset(
    {
        ErrorCode.BAD_FRAME,
        ErrorCode.TOO_LARGE,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.FORBIDDEN_TYPE,
        ErrorCode.SCHEMA_INVALID,
        ErrorCode.RATE_LIMITED,
    }
)


class ClientEventError(NexusError):
    """A client event is refused; the answer is one ``nexus.error`` frame.

    ``Ingress.handle`` answers it with that frame: it never ends a connection or a process.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        event_id: str | None = None,
        *,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id
        self.retry_after_ms = retry_after_ms

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        """Whether the client may resend the event as it is (the frame's ``retryable``)."""
        return self.code in RETRYABLE


def _owner_tag(campaign_id: str, user_id: str) -> str:
    digest = hashlib.blake2b(f"{campaign_id}\x00{user_id}".encode(), digest_size=6)
    return digest.hexdigest()


def new_connection_id(campaign_id: str, user_id: str) -> str:
    """32 hex characters: a tag of the owner (campaign, user), then 80 random bits.

    Resuming with ``?connection_id=`` keeps the id across pods, where no gateway knows who had
    it: the tag lets any pod refuse an id that belonged to someone else, who would otherwise
    receive the events addressed to that connection.
    """
    return _owner_tag(campaign_id, user_id) + uuid.uuid4().hex[:20]


# The ids new_connection_id makes, the only ones a connection has.
CONNECTION_ID_RE = re.compile(r"[0-9a-f]{32}")


def owns_connection_id(connection_id: str, campaign_id: str, user_id: str) -> bool:
    # The whole id is checked, not only its tag: it goes into frames, headers and log lines.
    return CONNECTION_ID_RE.fullmatch(connection_id) is not None and connection_id.startswith(
        _owner_tag(campaign_id, user_id)
    )


def protocol_frame(
    type_: str,
    payload: dict[str, Any],
    *,
    correlation_id: str | None = None,
    position: str | None = None,
    traceparent: str | None = None,
) -> bytes:
    metadata: dict[str, Any] = {"event_id": new_event_id(), "time": now_ms(), "source": "gateway"}
    if correlation_id is not None:
        metadata["correlation_id"] = correlation_id
    if position is not None:
        metadata["position"] = position
    if traceparent is not None:
        metadata["traceparent"] = traceparent
    return orjson.dumps({"type": type_, "payload": payload, "metadata": metadata})


def welcome_frame(
    *, connection_id: str, campaign_id: str, user_id: str, position: str, recovered: bool
) -> bytes:
    return protocol_frame(
        WELCOME,
        {
            "connection_id": connection_id,
            "campaign_id": campaign_id,
            "user_id": user_id,
            "position": position,
            "recovered": recovered,
        },
        position=position,
    )


def ack_frame(
    *,
    event_id: str,
    topic: str,
    partition: int,
    offset: int,
    duplicate: bool = False,
    traceparent: str | None = None,
) -> bytes:
    """``traceparent`` names the event's ``ws receive`` span when it was sampled: the trace
    a client (or whoever debugs it) can look the event up by."""
    return protocol_frame(
        ACK,
        {
            "event_id": event_id,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "duplicate": duplicate,
        },
        correlation_id=event_id,
        traceparent=traceparent,
    )


def error_frame(error: ClientEventError, *, traceparent: str | None = None) -> bytes:
    return protocol_frame(
        ERROR,
        {
            "code": str(error.code),
            "message": error.message,
            "event_id": error.event_id,
            "retryable": error.retriable,
            "retry_after_ms": error.retry_after_ms,
        },
        correlation_id=error.event_id,
        traceparent=traceparent,
    )


def event_frame(envelope: Envelope, payload: dict[str, Any], position: str) -> bytes:
    """The JSON text frame of a delivered event; built once per record, shared by targets."""
    meta = envelope.metadata
    metadata: dict[str, Any] = {
        "event_id": meta.event_id,
        "campaign_id": meta.campaign_id,
        "source": meta.source,
        "time": meta.time,
        "attributes": meta.attributes,
        "position": position,
    }
    for name in ("correlation_id", "user_id", "connection_id", "traceparent", "tracestate"):
        value = getattr(meta, name)
        if value is not None:
            metadata[name] = value
    return orjson.dumps({"type": envelope.type, "payload": payload, "metadata": metadata})
