"""What encode and decode refuse, and how they say it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from codec_registries import metadata

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import (
    CodecError,
    PayloadInvalidError,
    UnknownSchemaError,
    UnknownTypeError,
)


def valid(codec: Codec, type_name: str = "search.requested") -> bytes:
    payload: dict[str, Any] = {"query": "kafka", "limit": 5}
    return codec.encode(Envelope(type=type_name, payload=payload, metadata=metadata()))


def test_encoding_an_unregistered_type_is_an_unknown_type(codec: Codec) -> None:
    envelope = Envelope(type="nope.nope", payload={}, metadata=metadata())
    with pytest.raises(UnknownTypeError, match=r"nope\.nope"):
        codec.encode(envelope)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"query": 5}, "query"),
        ({"limit": 5}, "query"),
        ({"query": "q", "lang": "en"}, "lang"),
    ],
)
def test_encoding_a_payload_that_does_not_match_is_payload_invalid(
    codec: Codec, payload: dict[str, Any], fragment: str
) -> None:
    envelope = Envelope(type="search.requested", payload=payload, metadata=metadata())
    with pytest.raises(PayloadInvalidError, match=fragment):
        codec.encode(envelope)


def test_encoding_metadata_missing_a_required_value_is_a_codec_error(codec: Codec) -> None:
    envelope = Envelope(
        type="chat.message", payload={"text": "x"}, metadata=metadata(campaign_id=None)
    )
    with pytest.raises(CodecError, match="metadata"):
        codec.encode(envelope)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "truncated envelope: 0 bytes"),
        (b"\xc3\x01\x00", "truncated envelope: 3 bytes"),
        (b'{"type": "chat.message"}', "not Avro single-object encoded"),
        (None, "expected bytes, got NoneType"),
        ("text", "expected bytes, got str"),
    ],
)
def test_decode_names_what_is_wrong(codec: Codec, data: Any, fragment: str) -> None:
    with pytest.raises(CodecError, match=fragment):
        codec.decode(data)


def test_an_unknown_envelope_fingerprint_is_an_unknown_schema(codec: Codec) -> None:
    data = bytearray(valid(codec))
    data[2:10] = b"\x00" * 8
    with pytest.raises(UnknownSchemaError, match=r"envelope .* unknown schema fingerprint 0{16}"):
        codec.decode(bytes(data))


def test_an_unknown_payload_fingerprint_is_an_unknown_schema(codec: Codec) -> None:
    data = bytearray(valid(codec))
    payload_start = data.index(b"\xc3\x01", 10)
    data[payload_start + 2 : payload_start + 10] = b"\xff" * 8
    with pytest.raises(UnknownSchemaError, match=r"search\.requested payload .* f{16}"):
        codec.decode(bytes(data))


def test_a_payload_of_another_type_is_refused(codec: Codec) -> None:
    # Same-length type names, so swapping the name keeps the bytes well-formed.
    data = valid(codec, "search.requested").replace(b"search.requested", b"search.completed")
    with pytest.raises(
        CodecError,
        match=re.escape("says 'search.completed' but its payload is search.requested v1"),
    ):
        codec.decode(data)


def test_an_empty_event_id_is_refused_both_ways(codec: Codec) -> None:
    """Readers deduplicate by event_id: records with an empty one would all be "duplicates"
    of the first, skipped silently; a producer outside the SDK learns it from the error."""
    envelope = Envelope(type="chat.message", payload={"text": "x"}, metadata=metadata(event_id=""))
    with pytest.raises(CodecError, match=r"chat\.message envelope has an empty metadata\.event_id"):
        codec.encode(envelope)
    # As another producer would write it: the id's Avro string (length 6, zigzag 12) emptied.
    written = codec.encode(envelope.with_metadata(metadata(event_id="marker")))
    assert written.count(b"\x0cmarker") == 1
    with pytest.raises(CodecError, match=r"empty metadata\.event_id"):
        codec.decode(written.replace(b"\x0cmarker", b"\x00"))


def test_trailing_bytes_are_corruption_not_ignored(codec: Codec) -> None:
    with pytest.raises(CodecError, match="1 bytes after the end"):
        codec.decode(valid(codec) + b"\x00")


def test_decode_accepts_any_bytes_like_value(codec: Codec) -> None:
    data = valid(codec)
    expected = codec.decode(data)
    assert codec.decode(bytearray(data)) == expected
    assert codec.decode(memoryview(data)) == expected
