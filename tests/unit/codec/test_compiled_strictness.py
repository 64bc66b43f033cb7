"""What the compiled writer refuses, and how it says so.

The rule is fastavro's validator (the check fastavro itself runs to choose a union branch):
``bool`` is not an int or a long, an int or float is a double, strings are ``str`` only,
bytes are ``bytes``/``bytearray``. fastavro's plain writer is looser than its validator
(it writes ``True`` or ``1.5`` as a long and any object as a boolean); the compiled writer
refuses those, and every refusal names the field.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import pytest
from codec_registries import metadata
from fastavro.validation import validate

from nexus_mesh.codec import Codec
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, PayloadInvalidError

ACK = {"event_id": "e", "topic": "t", "partition": 0, "offset": 7, "duplicate": False}
HIT = {"id": "a", "title": "t", "score": 0.5, "snippet": None}

# (type, payload, message after "<type> payload does not match its schema: ")
INVALID: list[tuple[str, Any, str]] = [
    ("chat.message", {"text": 5}, "field 'text': expected string, got int"),
    ("chat.message", {"text": b"bytes"}, "field 'text': expected string, got bytes"),
    ("chat.message", {"text": None}, "field 'text': expected string, got NoneType"),
    ("chat.message", {"text": "x", "reply_to": 5}, "field 'reply_to': expected string, got int"),
    ("chat.message", {"text": "\ud800"}, "field 'text': not encodable as UTF-8"),
    ("chat.message", {}, "field 'text': missing, and the schema gives no default"),
    ("chat.message", {"text": "x", "lang": "en"}, "field 'lang': not in the schema"),
    ("chat.message", ["text"], "expected record (a mapping), got list"),
    ("chat.message", None, "expected record (a mapping), got NoneType"),
    ("nexus.ack", {**ACK, "offset": True}, "field 'offset': expected long, got bool"),
    ("nexus.ack", {**ACK, "partition": False}, "field 'partition': expected int, got bool"),
    ("nexus.ack", {**ACK, "offset": 1.5}, "field 'offset': expected long, got float"),
    ("nexus.ack", {**ACK, "offset": "7"}, "field 'offset': expected long, got str"),
    ("nexus.ack", {**ACK, "partition": 2**31}, "field 'partition': 2147483648 is out of range"),
    ("nexus.ack", {**ACK, "partition": -(2**31) - 1}, "field 'partition': -2147483649 is out"),
    ("nexus.ack", {**ACK, "offset": 2**63}, "field 'offset': 9223372036854775808 is out of range"),
    ("nexus.ack", {**ACK, "duplicate": 1}, "field 'duplicate': expected boolean, got int"),
    ("nexus.ack", {**ACK, "duplicate": None}, "field 'duplicate': expected boolean, got NoneType"),
    ("search.requested", {"query": "q", "limit": True}, "field 'limit': expected int, got bool"),
    ("search.requested", {"query": "q", "limit": 2**40}, "field 'limit': 1099511627776 is out"),
    ("search.completed", {"query": "q", "hits": "abc"}, "field 'hits': expected array, got str"),
    (
        "search.completed",
        {"query": "q", "hits": {"a": 1}},
        "field 'hits': expected array, got dict",
    ),
    ("search.completed", {"query": "q", "hits": [HIT, 5]}, "field 'hits[1]': expected record"),
    (
        "search.completed",
        {"query": "q", "hits": [HIT, {**HIT, "title": 5}]},
        "field 'hits[1].title': expected string, got int",
    ),
    (
        "search.completed",
        {"query": "q", "hits": [{**HIT, "score": "1.0"}]},
        "field 'hits[0].score': expected double, got str",
    ),
    (
        "search.completed",
        {"query": "q", "hits": [{**HIT, "score": True}]},
        "field 'hits[0].score': expected double, got bool",
    ),
    (
        "search.completed",
        {"query": "q", "hits": [{"id": "a", "title": "t"}]},
        "field 'hits[0].score': missing",
    ),
    (
        "search.completed",
        {"query": "q", "hits": [{**HIT, "rank": 1}]},
        "field 'hits[0].rank': not in the schema",
    ),
    (
        "campaign.updated",
        {"changes": {1: "x"}, "updated_at": 0},
        "field 'changes': expected string map key, got int",
    ),
    (
        "campaign.updated",
        {"changes": {"k": 1}, "updated_at": 0},
        "field 'changes['k']': expected string, got int",
    ),
    (
        "campaign.updated",
        {"changes": [("k", "v")], "updated_at": 0},
        "field 'changes': expected map, got list",
    ),
    ("campaign.updated", {"updated_at": "now"}, "field 'updated_at': expected long, got str"),
    ("system.notice", {"level": "loud", "text": "x"}, "field 'level': 'loud' is not one of"),
    ("system.notice", {"level": 1, "text": "x"}, "field 'level': expected enum symbol, got int"),
]


@pytest.mark.parametrize(("type_name", "payload", "message"), INVALID)
def test_invalid_payloads_are_refused_naming_the_field(
    codec: Codec, type_name: str, payload: Any, message: str
) -> None:
    envelope = Envelope(type=type_name, payload=payload, metadata=metadata())
    prefix = f"{type_name} payload does not match its schema: "
    with pytest.raises(PayloadInvalidError, match="^" + re.escape(prefix + message)):
        codec.encode(envelope)


@pytest.mark.parametrize(("type_name", "payload", "message"), INVALID)
def test_fastavro_refuses_them_too(
    codec: Codec, type_name: str, payload: Any, message: str
) -> None:
    """Either fastavro's writer (strict_allow_default) or its validator refuses each one, so
    the compiled writer is never looser than fastavro's own notion of the schema."""
    fastavro_path = BinaryCodec(codec.registry, compiled=False)
    envelope = Envelope(type=type_name, payload=payload, metadata=metadata())
    try:
        fastavro_path.encode(envelope)
    except PayloadInvalidError:
        return
    schema = codec.registry.latest(type_name).parsed
    assert not validate(payload, schema, raise_errors=False)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "x"}, {"text": "x", "reply_to": None}),
        (OrderedDict(text="x", reply_to="y"), {"text": "x", "reply_to": "y"}),
        ({"reply_to": None, "text": "x"}, {"text": "x", "reply_to": None}),
    ],
)
def test_defaults_and_any_mapping_are_accepted(
    codec: Codec, payload: Any, expected: dict[str, Any]
) -> None:
    envelope = Envelope(type="chat.message", payload=payload, metadata=metadata())
    assert codec.decode(codec.encode(envelope)).payload == expected


def test_a_defaultdict_is_not_grown_by_reading_it(codec: Codec) -> None:
    from collections import defaultdict

    payload: defaultdict[str, Any] = defaultdict(lambda: "surprise", text="x")
    envelope = Envelope(type="chat.message", payload=payload, metadata=metadata())
    assert codec.decode(codec.encode(envelope)).payload == {"text": "x", "reply_to": None}
    assert dict(payload) == {"text": "x"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"campaign_id": None}, "field 'campaign_id': expected string, got NoneType"),
        ({"time": "now"}, "field 'time': expected long, got str"),
        ({"time": True}, "field 'time': expected long, got bool"),
        ({"time": 2**64}, "field 'time': 18446744073709551616 is out of range for long"),
        ({"user_id": 7}, "field 'user_id': expected string, got int"),
        ({"attributes": {"a": 1}}, "field 'attributes['a']': expected string, got int"),
        ({"attributes": {2: "b"}}, "field 'attributes': expected string map key, got int"),
        ({"attributes": None}, "field 'attributes': expected map, got NoneType"),
        ({"traceparent": "\udcff"}, "field 'traceparent': not encodable as UTF-8"),
    ],
)
def test_bad_metadata_is_a_codec_error_naming_the_field(
    codec: Codec, overrides: dict[str, Any], message: str
) -> None:
    envelope = Envelope(type="chat.message", payload={"text": "x"}, metadata=metadata(**overrides))
    prefix = "cannot encode chat.message envelope metadata: "
    with pytest.raises(CodecError, match="^" + re.escape(prefix + message)):
        codec.encode(envelope)
