"""Review findings on the compiled codec, each pinned by a test, plus the guards the review
added around decoding (blocks as other writers write them, forged sizes, input types) and
code generation (schema text never becomes code).

The oracle is the fastavro path (``BinaryCodec(registry, compiled=False)``); records are
framed here with fastavro and hand-written Avro, never with the compiled writer, so the
readers are tested against bytes they did not produce.
"""

from __future__ import annotations

import builtins
import dataclasses
import random
import time
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from codec_registries import add_event, copy_real, metadata
from fastavro import schemaless_writer
from fastavro.logical_readers import LOGICAL_READERS
from fastavro.logical_writers import LOGICAL_WRITERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_strategies import native_values

from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.codec.framing import header
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, PayloadInvalidError
from nexus_mesh.registry import Registry, load_registry


def _record(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test.review", "fields": list(fields)}


AMOUNT = {
    "type": "fixed",
    "name": "Amount",
    "size": 8,
    "logicalType": "decimal",
    "precision": 18,
    "scale": 2,
}
TAG = {"type": "fixed", "name": "Tag", "size": 2}
SCHEMAS: dict[str, dict[str, Any]] = {
    "test.amount": _record(
        "Priced",
        {"name": "amount", "type": AMOUNT},
        {"name": "fee", "type": ["null", "Amount"], "default": None},
    ),
    "test.tagged": _record(
        "Tagged", {"name": "tag", "type": TAG}, {"name": "either", "type": ["Tag", "bytes"]}
    ),
    "test.blocks": _record(
        "Blocks",
        {"name": "ints", "type": {"type": "array", "items": "long"}},
        {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
        {
            "name": "by_name",
            "type": {"type": "map", "values": {"type": "map", "values": ["null", "string"]}},
        },
        {
            "name": "rows",
            "type": {
                "type": "array",
                "items": _record(
                    "Row",
                    {"name": "k", "type": "string"},
                    {"name": "scores", "type": {"type": "map", "values": "double"}},
                ),
            },
        },
        {"name": "maybe", "type": [{"type": "array", "items": "boolean"}, "null"]},
    ),
}
# Evolution: v1 is read through fastavro's schema resolution, v2 (the newest) is compiled.
EVOLVED = {
    1: _record("Evolved", {"name": "names", "type": {"type": "map", "values": "string"}}),
    2: _record(
        "Evolved",
        {"name": "names", "type": {"type": "map", "values": "string"}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ),
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = copy_real(tmp_path_factory.mktemp("review") / "schemas")
    for name, schema in SCHEMAS.items():
        add_event(root, name, {1: schema})
    add_event(root, "test.evolved", EVOLVED)
    return load_registry(root)


@pytest.fixture(scope="module")
def codecs(registry: Registry) -> tuple[BinaryCodec, BinaryCodec]:
    codec = BinaryCodec(registry)
    assert {*SCHEMAS, "test.evolved", "nexus.envelope"} <= codec.compiled
    return codec, BinaryCodec(registry, compiled=False)


def frame(registry: Registry, type_name: str, body: bytes, version: int = 0) -> bytes:
    """A record value around the payload ``body``, framed by fastavro (version 0: newest)."""
    payload = registry.versions(type_name)[version - 1].fingerprint
    envelope = registry.envelope_versions[-1]
    buffer = BytesIO()
    buffer.write(header(envelope.fingerprint))
    record = {
        "type": type_name,
        "payload": header(payload) + body,
        "metadata": dataclasses.asdict(metadata()),
    }
    schemaless_writer(buffer, envelope.parsed, record)
    return buffer.getvalue()


def both_write(codecs: tuple[BinaryCodec, BinaryCodec], type_name: str, payload: Any) -> bytes:
    codec, oracle = codecs
    envelope = Envelope(type=type_name, payload=payload, metadata=metadata())
    value = codec.encode(envelope)
    assert value == oracle.encode(envelope)
    assert codec.decode(value) == oracle.decode(value)
    return value


# --- Finding 1: a fixed decimal could not be written ------------------------------------
# fastavro's converter makes a bytearray of a fixed decimal; the compiled check took only
# bytes, so every Decimal for a fixed-decimal field was refused.


def test_a_fixed_decimal_is_written_as_fastavro_writes_it(
    codecs: tuple[BinaryCodec, BinaryCodec],
) -> None:
    for fee in (None, Decimal("0.50")):
        value = both_write(codecs, "test.amount", {"amount": Decimal("-12.34"), "fee": fee})
        assert codecs[0].decode(value).payload == {"amount": Decimal("-12.34"), "fee": fee}


def test_a_fixed_decimal_that_does_not_fit_names_the_field(
    codecs: tuple[BinaryCodec, BinaryCodec],
) -> None:
    envelope = Envelope(
        type="test.amount", payload={"amount": Decimal("1.234")}, metadata=metadata()
    )
    with pytest.raises(
        PayloadInvalidError, match="field 'amount': cannot convert to fixed-decimal"
    ):
        codecs[0].encode(envelope)


# --- Finding 2: a bytearray for a fixed -------------------------------------------------
# fastavro's validator (the compiled one it runs) takes a bytearray as a fixed; the compiled
# writer refused it, and in [fixed, bytes] wrote the bytes branch where fastavro writes fixed.


def test_a_bytearray_is_a_fixed_and_picks_the_branch_fastavro_picks(
    codecs: tuple[BinaryCodec, BinaryCodec],
) -> None:
    value = both_write(codecs, "test.tagged", {"tag": bytearray(b"ab"), "either": bytearray(b"cd")})
    assert b"ab\x00cd" in value  # tag, then union branch 0 (Tag) and "cd": not the bytes branch
    decoded = codecs[0].decode(value).payload
    assert decoded == {"tag": b"ab", "either": b"cd"}
    assert type(decoded["tag"]) is bytes
    both_write(codecs, "test.tagged", {"tag": b"ab", "either": bytearray(b"xyz")})
    with pytest.raises(PayloadInvalidError, match="field 'tag': expected fixed of 2 bytes, got 3"):
        codecs[0].encode(
            Envelope(
                type="test.tagged",
                payload={"tag": bytearray(b"abc"), "either": b""},
                metadata=metadata(),
            )
        )


# --- Finding 3: a logical type's name became code ---------------------------------------
# The converter-error message was an f-string with the logicalType spliced in, so with a
# converter registered for a custom logical type, the schema's text ran as Python.

HOSTILE_LOGICAL = ["x{6*7}", "x'+str(6*7)+'", 'x{__import__("builtins").__setattr__("PWNED", 1)}']


@pytest.mark.parametrize("logical", HOSTILE_LOGICAL)
def test_a_logical_type_name_is_never_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logical: str
) -> None:
    def refuse(value: Any, schema: Any) -> Any:
        raise ValueError("refused")

    key = f"string-{logical}"
    monkeypatch.setitem(LOGICAL_WRITERS, key, refuse)
    monkeypatch.setitem(LOGICAL_READERS, key, lambda data, writer, reader: data)
    root = copy_real(tmp_path / "schemas")
    field = {"name": "s", "type": {"type": "string", "logicalType": logical}}
    add_event(root, "test.custom", {1: _record("Custom", field)})
    codec = BinaryCodec(load_registry(root))
    assert "test.custom" in codec.compiled
    envelope = Envelope(type="test.custom", payload={"s": "x"}, metadata=metadata())
    try:
        with pytest.raises(PayloadInvalidError) as caught:
            codec.encode(envelope)
        assert not hasattr(builtins, "PWNED")
    finally:
        vars(builtins).pop("PWNED", None)
    assert f"field 's': cannot convert to {key}: ValueError: refused" in str(caught.value)


def test_schema_text_in_docs_defaults_and_properties_stays_data(tmp_path: Path) -> None:
    hostile = "'''\"\"\"\n}{__import__('os')._exit(3)}#\\"
    field: dict[str, Any] = {"name": "m", "type": {"type": "map", "values": "string"}}
    schema = _record(
        "Hostile",
        {**field, "default": {hostile: hostile}, "doc": hostile, hostile: hostile},
        {"name": "s", "type": {"type": "string", "logicalType": hostile}, "default": hostile},
        {"name": "n", "type": ["null", "string"], "default": None, "doc": hostile},
    )
    schema["doc"] = hostile
    root = copy_real(tmp_path / "schemas")
    add_event(root, "test.hostile", {1: schema})
    registry = load_registry(root)
    codec = BinaryCodec(registry)
    assert "test.hostile" in codec.compiled
    value = both_write((codec, BinaryCodec(registry, compiled=False)), "test.hostile", {})
    assert codec.decode(value).payload == {"m": {hostile: hostile}, "s": hostile, "n": None}


# --- Finding 4: a union index written in more than one byte -----------------------------
# Varints need not be minimal; fastavro (and Java) read 0x82 0x00 as index 1. The compiled
# reader refused it, and reported the raw byte as the index ("union index 130").


def test_a_union_index_in_two_bytes_reads_as_fastavro_reads_it(
    registry: Registry, codecs: tuple[BinaryCodec, BinaryCodec]
) -> None:
    codec, oracle = codecs
    for index, expected in ((b"\x82\x00\x02y", "y"), (b"\x80\x80\x00", None)):
        value = frame(registry, "chat.message", b"\x02x" + index)
        assert codec.decode(value) == oracle.decode(value)
        assert codec.decode(value).payload == {"text": "x", "reply_to": expected}
    with pytest.raises(CodecError, match="union index 3 before offset"):
        codec.decode(frame(registry, "chat.message", b"\x02x\x86\x00"))
    with pytest.raises(CodecError, match="union index -1 before offset"):
        codec.decode(frame(registry, "chat.message", b"\x02x\x01"))


# --- Guards: blocks as other writers write them -----------------------------------------


def _long(value: int) -> bytes:
    buffer = BytesIO()
    schemaless_writer(buffer, "long", value)
    return buffer.getvalue()


def _blocks(items: list[bytes], rng: random.Random) -> bytes:
    """Items in random blocks, some with a negative count and a byte size, then the end."""
    out = b""
    while items:
        size = rng.randint(1, len(items))
        block, items = b"".join(items[:size]), items[size:]
        out += _long(-size) + _long(len(block)) if rng.random() < 0.5 else _long(size)
        out += block
    return out + b"\x00"


def _write(schema: Any, value: Any, named: dict[str, Any], rng: random.Random) -> bytes:
    """Avro binary per the specification, with arrays and maps in many blocks."""
    if isinstance(schema, str) and schema in named:
        return _write(named[schema], value, named, rng)
    if isinstance(schema, list):
        index = next(i for i, b in enumerate(schema) if (b == "null") == (value is None))
        return _long(index) + _write(schema[index], value, named, rng)
    kind = schema["type"] if isinstance(schema, dict) else schema
    if kind == "record":
        return b"".join(_write(f["type"], value[f["name"]], named, rng) for f in schema["fields"])
    if kind == "array":
        return _blocks([_write(schema["items"], v, named, rng) for v in value], rng)
    if kind == "map":
        entries = [
            _write("string", k, named, rng) + _write(schema["values"], v, named, rng)
            for k, v in value.items()
        ]
        return _blocks(entries, rng)
    buffer = BytesIO()
    schemaless_writer(buffer, schema, value)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_many_blocks_and_byte_sizes_read_as_fastavro_reads_them(
    registry: Registry, codecs: tuple[BinaryCodec, BinaryCodec], data: st.DataObject
) -> None:
    codec, oracle = codecs
    parsed = registry.latest("test.blocks").parsed
    payload = data.draw(native_values(parsed))
    body = _write(parsed, payload, parsed["__named_schemas"], data.draw(st.randoms()))
    value = frame(registry, "test.blocks", body)
    decoded = codec.decode(value)
    assert decoded == oracle.decode(value)
    assert decoded.payload == payload


# --- Guards: forged sizes, old writers, input types -------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "body",
    [
        _long(2**62) + b"\x02a\x02b" * 3 + b"\x00",  # map block count 2**62, few bytes
        _long(-(2**62)) + _long(6) + b"\x02a\x02b" * 3 + b"\x00",
        _long(-(2**63)) + _long(2**62) + b"\x02a\x02b\x00",
        _long(1) + _long(2**62) + b"abc",  # a key of 2**62 bytes
        _long(1) + b"\x02a" + _long(2**40) + b"abc" + b"\x00",
        _long(1) + b"\x02a" + b"\xff" * 11,
    ],
)
def test_forged_counts_and_lengths_fail_fast(
    registry: Registry, codecs: tuple[BinaryCodec, BinaryCodec], version: int, body: bytes
) -> None:
    codec, _ = codecs
    value = frame(registry, "test.evolved", body + (b"\x00" if version == 2 else b""), version)
    began = time.perf_counter()
    with pytest.raises(CodecError):
        codec.decode(value)
    assert time.perf_counter() - began < 0.5


def test_an_old_writer_resolves_to_the_newest_version(
    registry: Registry, codecs: tuple[BinaryCodec, BinaryCodec]
) -> None:
    codec, oracle = codecs
    old = frame(registry, "test.evolved", _long(-1) + _long(4) + b"\x02k\x02v\x00", version=1)
    assert codec.decode(old).payload == {"names": {"k": "v"}, "note": None}
    assert codec.decode(old) == oracle.decode(old)
    with pytest.raises(CodecError, match="1 bytes after the end"):
        codec.decode(frame(registry, "test.evolved", b"\x00\x00", version=1))


def test_bytearray_and_memoryview_decode_like_bytes(
    codecs: tuple[BinaryCodec, BinaryCodec],
) -> None:
    codec, _ = codecs
    value = both_write(codecs, "test.tagged", {"tag": b"ab", "either": b"raw"})
    expected = codec.decode(value)
    for data in (bytearray(value), memoryview(value), memoryview(bytearray(value))):
        decoded = codec.decode(data)  # type: ignore[arg-type]
        assert decoded == expected
        assert type(decoded.payload["either"]) is bytes
