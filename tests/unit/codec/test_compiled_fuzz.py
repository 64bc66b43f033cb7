"""Hostile bytes against the compiled readers: only CodecError, never another exception or a
hang, and whatever they do accept, fastavro reads to the same value."""

from __future__ import annotations

import random
from typing import Any

import pytest
from codec_registries import add_event, copy_real, metadata
from mutations import mutations
from native_strategies import COMPILABLE, compilable_example

from nexus_mesh.codec import Codec
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.codec.wire import LENGTHS
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError
from nexus_mesh.registry import load_registry

SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("chat.message", {"text": "héllo 👋 " * 12, "reply_to": "0190f7a2-1b2c"}),
    (
        "search.completed",
        {
            "query": "kafka",
            "hits": [
                {"id": f"doc-{i}", "title": "K" * 70, "score": 0.5 * i, "snippet": None}
                for i in range(3)
            ],
        },
    ),
    ("campaign.updated", {"name": "n", "changes": {"a": "1", "b": "2"}, "updated_at": 2**41}),
    ("nexus.ack", {"event_id": "e", "topic": "t", "partition": -3, "offset": 2**40}),
    ("system.notice", {"level": "critical", "text": "maintenance at 22:00"}),
    ("test.compiled", compilable_example()),
]


@pytest.fixture(scope="module")
def codecs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Codec, BinaryCodec]:
    root = copy_real(tmp_path_factory.mktemp("fuzz") / "schemas")
    add_event(root, "test.compiled", {1: COMPILABLE})
    registry = load_registry(root)
    codec = Codec(registry)
    assert {t for t, _ in SAMPLES} | {"nexus.envelope"} <= codec.compiled
    return codec, BinaryCodec(registry, compiled=False)


def encoded(codec: Codec) -> list[bytes]:
    meta = metadata(attributes={"client": "web", "k" * 80: "v" * 80})
    return [codec.encode(Envelope(type=t, payload=p, metadata=meta)) for t, p in SAMPLES]


def same(a: Envelope, b: Envelope) -> bool:
    # A mutated double can become NaN, which is never equal to itself.
    return a == b or repr(a) == repr(b)


def check(codec: Codec, oracle: BinaryCodec, data: bytes) -> bool:
    """True when the compiled codec decoded ``data``; then fastavro must agree."""
    try:
        envelope = codec.decode(data)
    except CodecError:
        return False
    assert same(envelope, oracle.decode(data))
    return True


def test_every_truncation_is_a_codec_error(codecs: tuple[Codec, BinaryCodec]) -> None:
    codec, _ = codecs
    for value in encoded(codec):
        for end in range(len(value)):
            with pytest.raises(CodecError):
                codec.decode(value[:end])


def test_mutated_records_raise_only_codec_errors_and_agree_with_fastavro(
    codecs: tuple[Codec, BinaryCodec],
) -> None:
    codec, oracle = codecs
    mutated = mutations(encoded(codec), count=6000, most_edits=3, seed=20261126)
    results = [check(codec, oracle, data) for data in mutated]
    decoded, refused = results.count(True), results.count(False)
    assert refused > decoded > 0


def test_random_bodies_behind_valid_headers_are_codec_errors(
    codecs: tuple[Codec, BinaryCodec],
) -> None:
    codec, oracle = codecs
    rng = random.Random(7)
    headers = [value[:10] for value in encoded(codec)]
    for _ in range(3000):
        body = rng.randbytes(rng.randrange(0, 200))
        check(codec, oracle, rng.choice(headers) + body)


def envelope_around(codec: Codec, payload_body: bytes, type_name: str = "nexus.ack") -> bytes:
    """A valid envelope whose payload body is ``payload_body`` (after a valid header)."""
    value = codec.encode(
        Envelope(
            type=type_name,
            payload={"event_id": "e", "topic": "t", "partition": 0, "offset": 0},
            metadata=metadata(attributes={}),
        )
    )
    name = type_name.encode()
    start = 10 + 1 + len(name)
    size = value[start] >> 1  # the sample payload is short: a one-byte length
    payload = value[start + 1 : start + 1 + size]
    body = payload[:10] + payload_body
    return value[:start] + LENGTHS[len(body)] + body + value[start + 1 + size :]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\x02e\x02t\x00\x00\x02", "boolean index 2"),  # duplicate = 2
        (b"\x02e\x02t\x80\x80\x80\x80\x10\x00\x00", "does not fit in an int"),  # partition 2**31
        (b"\x02e\x02t\x00" + b"\xff" * 10 + b"\x01\x00", "longer than 10 bytes"),
        (b"\x02e\x02t\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00", "does not fit in a long"),
        (b"\x01e\x02t\x00\x00\x00", "negative length -1"),
        (b"\x7ee\x02t\x00\x00\x00", "string of 63 bytes at offset"),
        (b"\x02e\x02t\x00\x00\x00\x00", "1 bytes after the end"),
        # Reading runs on into the envelope's metadata before it notices: still refused.
        (b"\x02e\x02t\x00\x00", "nexus.ack payload"),
        (b"\x02\xff\x02t\x00\x00\x00", "UnicodeDecodeError"),
    ],
)
def test_crafted_payloads_say_what_is_wrong(
    codecs: tuple[Codec, BinaryCodec], body: bytes, fragment: str
) -> None:
    codec, _ = codecs
    with pytest.raises(CodecError, match=r"malformed nexus\.ack payload \(nexus\.ack v1\): .*"):
        codec.decode(envelope_around(codec, body))
    with pytest.raises(CodecError, match=fragment):
        codec.decode(envelope_around(codec, body))


def test_bad_union_and_enum_indexes_are_codec_errors(codecs: tuple[Codec, BinaryCodec]) -> None:
    codec, _ = codecs
    chat = codec.encode(Envelope(type="chat.message", payload={"text": "x"}, metadata=metadata()))
    assert chat.count(b"\x02x\x00") == 1  # text "x", then the reply_to null branch
    with pytest.raises(CodecError, match="union index 2 "):
        codec.decode(chat.replace(b"\x02x\x00", b"\x02x\x04"))
    notice = codec.encode(
        Envelope(type="system.notice", payload={"text": "x"}, metadata=metadata())
    )
    assert notice.count(b"\x00\x02x") == 1  # level "info" (ordinal 0), then text
    with pytest.raises(CodecError, match="enum index 3"):
        codec.decode(notice.replace(b"\x00\x02x", b"\x06\x02x"))
    with pytest.raises(CodecError, match="enum index -1"):
        codec.decode(notice.replace(b"\x00\x02x", b"\x01\x02x"))


def test_blocks_with_a_byte_size_decode_like_fastavro(codecs: tuple[Codec, BinaryCodec]) -> None:
    """Avro lets a writer give a block's byte size with a negative count; other writers
    (Java's) do, so the compiled reader must read it as fastavro does."""
    codec, oracle = codecs
    value = codec.encode(Envelope(type="chat.message", payload={"text": "x"}, metadata=metadata()))
    block = b"\x02\x0cclient\x06web\x00"  # one entry, then the end of the map
    assert value.endswith(block)
    entry = b"\x0cclient\x06web"
    sized = value[: -len(block)] + b"\x01" + LENGTHS[len(entry)] + entry + b"\x00"
    assert codec.decode(sized) == oracle.decode(sized)
    assert codec.decode(sized).metadata.attributes == {"client": "web"}


def test_a_huge_block_count_fails_before_looping(codecs: tuple[Codec, BinaryCodec]) -> None:
    codec, _ = codecs
    value = codec.encode(Envelope(type="chat.message", payload={"text": "x"}, metadata=metadata()))
    block = b"\x02\x0cclient\x06web\x00"
    hostile = value[: -len(block)] + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f\x00"
    with pytest.raises(CodecError, match="block of items"):
        codec.decode(hostile)
