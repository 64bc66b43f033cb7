"""What travels on a client socket (DESIGN.md sections 2 and 5), as typed values and errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from nexus_mesh.envelope import CLIENT_ID_RE
from nexus_mesh.errors import NexusError

# Importable from here as they always were.
from nexus_mesh.ws_protocol import ACK as ACK
from nexus_mesh.ws_protocol import ERROR as ERROR
from nexus_mesh.ws_protocol import PROTOCOL_PREFIX as PROTOCOL_PREFIX
from nexus_mesh.ws_protocol import WELCOME as WELCOME
from nexus_mesh.ws_protocol import CloseCode

# After these the gateway still holds everything the client missed: reconnect with `since`.
# 1006 is what a dropped TCP connection looks like to the client.
RESUMABLE_CLOSE_CODES: frozenset[int] = frozenset(
    {CloseCode.GOING_AWAY, CloseCode.ABNORMAL, CloseCode.SLOW_CONSUMER}
)
UNAUTHORIZED_CLOSE_CODE: int = CloseCode.UNAUTHORIZED


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope received from the gateway: a delivered event or a ``nexus.*`` frame."""

    type: str
    payload: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def event_id(self) -> str | None:
        return _text(self.metadata.get("event_id"))

    @property
    def correlation_id(self) -> str | None:
        return _text(self.metadata.get("correlation_id"))

    @property
    def position(self) -> str | None:
        return _text(self.metadata.get("position"))

    @property
    def user_id(self) -> str | None:
        return _text(self.metadata.get("user_id"))

    @property
    def is_protocol(self) -> bool:
        return self.type.startswith(PROTOCOL_PREFIX)


@dataclass(frozen=True, slots=True)
class Ack:
    """The gateway's ``nexus.ack``: the event is durably in Kafka at ``topic/partition/offset``."""

    event_id: str
    topic: str
    partition: int
    offset: int
    duplicate: bool
    traceparent: str | None = None
    """The event's trace (its ``ws receive`` span at the gateway), when it was sampled."""

    @classmethod
    def from_event(cls, frame: Event) -> Ack:
        p = frame.payload
        try:
            return cls(
                event_id=str(p["event_id"]),
                topic=str(p["topic"]),
                partition=int(p["partition"]),
                offset=int(p["offset"]),
                duplicate=bool(p.get("duplicate", False)),
                traceparent=_text(frame.metadata.get("traceparent")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MeshProtocolError(
                f"malformed nexus.ack payload: {p!r}",
                event_id=frame.correlation_id or _text(p.get("event_id")),
            ) from exc


class MeshError(NexusError):
    """The gateway answered an event with ``nexus.error``.

    The event was not written, except with code ``unconfirmed`` (``retryable``): Kafka took
    the write without confirming it in time, so it may still land; resend it with the same
    ``event_id`` to learn which.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        event_id: str | None = None,
        traceparent: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retryable
        self.event_id = event_id
        self.traceparent = traceparent
        """The refused event's trace at the gateway, when it was sampled: where the operator
        finds why."""
        self.retry_after = retry_after
        """With ``rate_limited``: seconds until the user may send again (resending sooner is
        refused again); None otherwise."""

    @property
    def retryable(self) -> bool:
        """``retriable`` by the name the ``nexus.error`` frame gives it."""
        return self.retriable

    @classmethod
    def from_event(cls, frame: Event) -> MeshError:
        p = frame.payload
        return cls(
            str(p.get("code", "unknown")),
            str(p.get("message", "")),
            retryable=bool(p.get("retryable", False)),
            event_id=_text(p.get("event_id")) or frame.correlation_id,
            traceparent=_text(frame.metadata.get("traceparent")),
            retry_after=_seconds(p.get("retry_after_ms")),
        )


class MeshProtocolError(NexusError, ValueError):
    """The gateway answered an ``emit``/``request`` with a frame that breaks the protocol: a
    ``nexus.ack`` lacking its topic, partition or offset, say (a gateway of another version,
    something in between rewriting frames). ``event_id`` names the event it answered.

    Not retriable: a resend under ``event_id`` would be answered the same way.
    """

    def __init__(self, message: str, *, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_id = event_id


class MeshConnectError(NexusError, ConnectionError):
    """No session was established: refused handshake, close before the welcome, or no route.

    ``close_code`` is the WebSocket close code when the gateway accepted the handshake and then
    closed (4001, 4003, ...); ``status`` is the HTTP status when it refused the handshake.
    """

    def __init__(self, close_code: int | None, reason: str, *, status: int | None = None) -> None:
        if close_code is not None:
            detail = f" (close code {close_code})"
        elif status is not None:
            detail = f" (HTTP {status})"
        else:
            detail = ""
        super().__init__(f"cannot join the mesh{detail}: {reason}")
        self.close_code = close_code
        self.reason = reason
        self.status = status
        self.retriable = (
            close_code in RESUMABLE_CLOSE_CODES
            or (status is not None and status >= 500)
            or (close_code is None and status is None)
        )
        self.needs_new_token = close_code == UNAUTHORIZED_CLOSE_CODE
        """4001: the token was refused or has expired; connect or resume with a new one."""


class MeshClosedError(NexusError, ConnectionError):
    """The session ended; whatever was awaiting an answer on it fails with this."""

    def __init__(self, close_code: int, reason: str = "") -> None:
        suffix = f": {reason}" if reason else ""
        super().__init__(f"connection closed with code {close_code}{suffix}")
        self.close_code = close_code
        self.reason = reason
        self.retriable = close_code in RESUMABLE_CLOSE_CODES
        self.needs_new_token = close_code == UNAUTHORIZED_CLOSE_CODE
        """4001 (the token expired, say): not resumable as it is, but
        ``client.reconnect(token=new)`` resumes the session with a new token."""
        self.event_id: str | None = None
        """Set when an ``emit``/``request`` was waiting: resend under this id after the
        resume (a new id would write the event twice if this one landed)."""


class MeshTimeoutError(NexusError, TimeoutError):
    """An ``emit``/``request`` got no answer in time; the event may or may not be written.

    Resend it with ``event_id`` (on this session or after a resume): the gateway answers a
    write it already has with its ack (``duplicate``) instead of writing it twice.
    """

    retriable = True  # resent under the same event_id, it is written at most once

    def __init__(self, message: str, *, event_id: str) -> None:
        super().__init__(message)
        self.event_id = event_id


def parse_frame(data: str | bytes) -> Event:
    """Decode one server frame; ``ValueError`` when it is not an envelope."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"frame is not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ValueError("frame is not a JSON object")
    type_, payload, metadata = frame.get("type"), frame.get("payload"), frame.get("metadata")
    if not isinstance(type_, str) or not isinstance(payload, dict):
        raise ValueError("frame lacks a type or an object payload")
    if not isinstance(metadata, dict):
        raise ValueError("frame lacks an object metadata")
    return Event(type_, payload, metadata)


def encode_event(
    type_: str,
    payload: Mapping[str, Any],
    *,
    event_id: str,
    correlation_id: str | None = None,
    attributes: Mapping[str, str] | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> bytes:
    # Checked here: the gateway's bad_frame for an id it cannot read names no event, so it
    # could not be matched to this send, which would wait out its timeout instead.
    for name, value in (("event_id", event_id), ("correlation_id", correlation_id)):
        if value is not None and not CLIENT_ID_RE.fullmatch(value):
            raise ValueError(f"{name} {value!r} must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    metadata: dict[str, Any] = {}
    if correlation_id is not None:
        metadata["correlation_id"] = correlation_id
    if attributes:
        metadata["attributes"] = dict(attributes)
    if traceparent is not None:
        metadata["traceparent"] = traceparent
        if tracestate:
            # Only with the trace it belongs to (W3C): the gateway carries it on.
            metadata["tracestate"] = tracestate
    # Last of all: a frame the gateway refuses unread (over the rate limit, too large) is
    # matched to its send by the last "event_id" in its text, which an attribute or a payload
    # field of that name would otherwise be.
    metadata["event_id"] = event_id
    body = payload if isinstance(payload, dict) else dict(payload)
    return orjson.dumps({"type": type_, "payload": body, "metadata": metadata})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _seconds(milliseconds: object) -> float | None:
    # bool is an int: a malformed true must not read as one millisecond.
    if isinstance(milliseconds, int) and not isinstance(milliseconds, bool) and milliseconds >= 0:
        return milliseconds / 1000
    return None
