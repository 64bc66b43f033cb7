"""Reading a client's frame: its shape, the ids and attributes it may set, its traceparent.

Each check refuses with ``bad_frame`` and, when the frame names a valid event id, that id, so
the client can match the error to what it sent (DESIGN.md section 5). What the gateway does
with a well-formed event is :mod:`nexus_gateway.ingress`'s business.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from opentelemetry.trace.span import TraceState

from nexus_gateway.protocol import ClientEventError, ErrorCode
from nexus_mesh.envelope import CLIENT_ID_RE

_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
# W3C lets a participant drop a tracestate beyond 512 characters.
_MAX_TRACESTATE = 512
# A W3C list member: a simple or a multi-tenant key, "=", a value of printable ASCII without
# "," or "=" that does not end in a space.
_TRACESTATE_MEMBER = re.compile(
    r"(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
_MAX_ATTRIBUTES = 32
_MAX_ATTRIBUTE_KEY = 64
_MAX_ATTRIBUTE_VALUE = 1024
# Attributes the gateway stamps; a client may not send them.
RESERVED_ATTRIBUTE_PREFIX = "nexus."
SENDER_USER_ATTRIBUTE = "nexus.sender_user_id"
SENDER_CONNECTION_ATTRIBUTE = "nexus.sender_connection_id"


def parse_frame(raw: str | bytes) -> dict[str, Any]:
    """The frame as a JSON object with no field but ``type``, ``payload`` and ``metadata``."""
    try:
        frame = _loads(raw)
    except ValueError:
        raise ClientEventError(ErrorCode.BAD_FRAME, "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise ClientEventError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    unknown = set(frame) - {"type", "payload", "metadata"}
    if unknown:
        raise ClientEventError(
            ErrorCode.BAD_FRAME,
            f"unexpected fields in frame: {', '.join(sorted(unknown))}",
            _claimed_event_id(frame),
        )
    if "type" not in frame:
        raise ClientEventError(ErrorCode.BAD_FRAME, "frame has no type", _claimed_event_id(frame))
    metadata = frame.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ClientEventError(ErrorCode.BAD_FRAME, "metadata must be an object")
    return frame


def claimed_event_id(raw: str | bytes) -> str | None:
    """The event id of a refused frame (binary, too large, malformed) when it names a valid
    one, so the client can match the error to what it sent."""
    try:
        return _claimed_event_id(_loads(raw))
    except ValueError:
        return None


def _loads(raw: str | bytes) -> Any:
    """``raw`` parsed; ValueError when it is no JSON.

    JSON may escape half of a UTF-16 surrogate pair alone (``"\\ud83d"``), and JavaScript's
    ``JSON.stringify`` writes one for text cut in the middle of an emoji; orjson refuses it,
    as no character. Such a frame is read as a browser sends text it cannot encode: each lone
    half becomes U+FFFD, so the event goes on, with its id, instead of being refused unnamed.
    The escapes are mended in the text and orjson parses it again: one pass of a regex, not
    a slower parser (a client may send such frames as fast as its rate limit allows).
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode() if isinstance(raw, bytes) else raw  # invalid UTF-8: ValueError
        if "\\u" not in text:
            raise
    return orjson.loads(_ESCAPE.sub(_mended, text))


# One escape at a time, left to right, so that an escaped backslash is never taken for the
# start of the next: a surrogate pair, a lone half, or any other escape (kept as it is).
_ESCAPE = re.compile(
    r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r"|u[dD][89a-fA-F][0-9a-fA-F]{2}|.)",
    re.DOTALL,
)


def _mended(escape: re.Match[str]) -> str:
    found = escape.group(0)
    if len(found) == 6 and found[1] in "uU":  # a lone half: a pair is 12 long
        return "\\ufffd"
    return found


_EVENT_ID_KEY = '"event_id"'
_EVENT_ID_AT = re.compile(r'"event_id"\s*:\s*"([A-Za-z0-9._:\-]{1,128})"')
_EVENT_ID_AT_BYTES = re.compile(rb'"event_id"\s*:\s*"([A-Za-z0-9._:\-]{1,128})"')


# A refused frame this small is parsed for its id: a few microseconds, less than receiving it.
_PARSED_WHEN_REFUSED = 4096


def scanned_event_id(raw: str | bytes) -> str | None:
    """The event id of a frame refused unread (over the rate limit, binary, too large).

    A frame of up to 4 KiB (a chat message, a search) is parsed, so its id is exact. A larger
    one is not: parsing what is refused would let a client spend the gateway's CPU beyond its
    rate limit, up to a megabyte of JSON per frame. Its id is the last ``"event_id": "<id>"``
    in the frame: clients write ``metadata`` after the payload it describes, and its
    ``event_id`` last (the Python client does; the demo page's metadata holds nothing else).
    A field of the same name written after it would be taken for it: then the error names
    that id, as unknown to the client as no id at all.
    """
    if len(raw) <= _PARSED_WHEN_REFUSED:
        try:
            return _claimed_event_id(orjson.loads(raw))
        except orjson.JSONDecodeError:
            pass  # not mended here: the scan below still finds the id
    if isinstance(raw, str):
        at = raw.rfind(_EVENT_ID_KEY)
        found = _EVENT_ID_AT.match(raw, at) if at >= 0 else None
        return found.group(1) if found else None
    at = raw.rfind(b'"event_id"')
    matched = _EVENT_ID_AT_BYTES.match(raw, at) if at >= 0 else None
    return matched.group(1).decode() if matched else None


def _claimed_event_id(frame: object) -> str | None:
    metadata = frame.get("metadata") if isinstance(frame, dict) else None
    value = metadata.get("event_id") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and CLIENT_ID_RE.fullmatch(value) else None


def client_id(metadata: dict[str, Any], name: str, event_id: str | None = None) -> str | None:
    """``metadata[name]`` if the client set it: an id by DESIGN.md's rules, else refused."""
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise ClientEventError(
            ErrorCode.BAD_FRAME,
            f"metadata.{name} must be 1-128 characters of letters, digits and ._:-",
            event_id,
        )
    return value


def client_attributes(metadata: dict[str, Any], event_id: str) -> dict[str, str]:
    """The client's ``metadata.attributes``: bounded strings, none in the gateway's ``nexus.``."""
    raw = metadata.get("attributes")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > _MAX_ATTRIBUTES:
        raise ClientEventError(
            ErrorCode.BAD_FRAME,
            f"metadata.attributes must be an object of at most {_MAX_ATTRIBUTES} strings",
            event_id,
        )
    for key, value in raw.items():
        problem = None
        # Any case: "NEXUS.sender_user_id" beside the gateway's own would fool a reader that
        # compares keys without it.
        if key.lower().startswith(RESERVED_ATTRIBUTE_PREFIX):
            problem = (
                f"keys starting with {RESERVED_ATTRIBUTE_PREFIX!r} (in any case) are the gateway's"
            )
        elif not isinstance(value, str):
            problem = "must be a string"
        elif len(key) > _MAX_ATTRIBUTE_KEY or len(value) > _MAX_ATTRIBUTE_VALUE:
            problem = (
                f"keys may have at most {_MAX_ATTRIBUTE_KEY} characters, values "
                f"{_MAX_ATTRIBUTE_VALUE}"
            )
        if problem:
            raise ClientEventError(
                ErrorCode.BAD_FRAME, f"metadata.attributes[{key[:64]!r}]: {problem}", event_id
            )
    return dict(raw)


def client_tracestate(metadata: dict[str, Any]) -> str | None:
    """The client's W3C ``tracestate``, normalised, when it is valid; an invalid one is
    dropped, not refused (W3C trace context: the trace goes on without it)."""
    value = metadata.get("tracestate")
    if not isinstance(value, str) or not value or len(value) > _MAX_TRACESTATE:
        return None
    members = [member.strip() for member in value.split(",")]
    # Checked here first: OpenTelemetry logs a warning for each member it refuses, and the
    # text is the client's, as often as it likes.
    if len(members) > 32 or not all(_TRACESTATE_MEMBER.fullmatch(m) for m in members if m):
        return None
    header = TraceState.from_header([value]).to_header()
    return header or None


def client_traceparent(metadata: dict[str, Any], event_id: str | None) -> str | None:
    """The client's W3C ``traceparent``, if it sent one; anything else under that name is
    refused rather than dropped, since the client meant its trace to continue."""
    traceparent = metadata.get("traceparent")
    if traceparent is None:
        return None
    if not isinstance(traceparent, str) or not _TRACEPARENT_RE.fullmatch(traceparent):
        raise ClientEventError(
            ErrorCode.BAD_FRAME, "metadata.traceparent is not a W3C traceparent", event_id
        )
    return traceparent
