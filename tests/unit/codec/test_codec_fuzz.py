"""Hostile bytes: every input is answered with a CodecError (or, rarely, a valid envelope),
never another exception, a hang or a crash."""

from __future__ import annotations

from typing import Any

import pytest
from codec_registries import metadata
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import mutations

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError

SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("search.requested", {"query": "kafka avro", "limit": 10}),
    (
        "search.completed",
        {
            "query": "kafka",
            "hits": [
                {"id": f"doc-{i}", "title": "Kafka", "score": 0.5 * i, "snippet": "…"}
                for i in range(3)
            ],
        },
    ),
    ("chat.message", {"text": "héllo 👋", "reply_to": None}),
    ("system.notice", {"level": "warning", "text": "maintenance at 22:00"}),
]


def encoded(codec: Codec) -> list[bytes]:
    return [codec.encode(Envelope(type=t, payload=p, metadata=metadata())) for t, p in SAMPLES]


def decode_or_codec_error(codec: Codec, data: bytes) -> bool:
    """True when ``data`` decoded; any exception but CodecError fails the test."""
    try:
        envelope = codec.decode(data)
    except CodecError:
        return False
    assert isinstance(envelope, Envelope)
    return True


@settings(max_examples=3000, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_are_a_codec_error(codec: Codec, data: bytes) -> None:
    with pytest.raises(CodecError):
        codec.decode(data)


@settings(max_examples=2000, deadline=None)
@given(body=st.binary(max_size=300), which=st.integers(0, len(SAMPLES) - 1))
def test_garbage_behind_a_valid_header_is_a_codec_error(
    codec: Codec, body: bytes, which: int
) -> None:
    header = encoded(codec)[which][:10]
    with pytest.raises(CodecError):
        codec.decode(header + body)


def test_every_truncation_of_valid_records_is_a_codec_error(codec: Codec) -> None:
    tried = 0
    for value in encoded(codec):
        for end in range(len(value)):
            with pytest.raises(CodecError):
                codec.decode(value[:end])
            tried += 1
    assert tried > 1000


def test_thousands_of_mutated_records_never_escape_the_codec_error(codec: Codec) -> None:
    mutated = mutations(encoded(codec), count=20_000, most_edits=4, seed=20240501)
    results = [decode_or_codec_error(codec, data) for data in mutated]
    decoded, refused = results.count(True), results.count(False)
    # Flipping a byte inside a string can still be a valid record; most mutations are not.
    assert refused > decoded > 0


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # a type string of 2**62 bytes
        b"\x01",  # a negative length
        b"\x06abc\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # a 2**62-byte payload
        b"\x80" * 5000,  # a varint that never ends
        b"\x06abc\x04\xff\xfe",  # a payload that is not single-object framed
    ],
)
def test_crafted_lengths_fail_fast(codec: Codec, body: bytes) -> None:
    header = encoded(codec)[0][:10]
    with pytest.raises(CodecError):
        codec.decode(header + body)


def test_a_huge_map_block_count_fails_fast_instead_of_looping(codec: Codec) -> None:
    value = encoded(codec)[2]
    # Envelopes end with the attributes map: {"client": "web"} then a 0 block terminator.
    block = b"\x02\x0cclient\x06web\x00"
    assert value.endswith(block)
    hostile = value[: -len(block)] + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f" + b"\x00"
    with pytest.raises(CodecError):
        codec.decode(hostile)


def test_invalid_utf8_in_a_string_is_a_codec_error(codec: Codec) -> None:
    value = encoded(codec)[0]
    broken = value.replace(b"camp-42", b"camp-\xff\xfe")
    with pytest.raises(CodecError, match="UnicodeDecodeError"):
        codec.decode(broken)
