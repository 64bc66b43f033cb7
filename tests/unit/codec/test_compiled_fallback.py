"""Schemas the generators do not compile stay on fastavro, with no code change: adding an
exotic schema file to the registry directory still works end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from codec_registries import add_envelope_v2, add_event, copy_real, metadata

from nexus_mesh.codec import Codec
from nexus_mesh.codec.avro_model import UnsupportedSchemaError, model_of
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.envelope import Envelope
from nexus_mesh.registry import load_registry


def _record(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test.exotic", "fields": list(fields)}


CIRCLE = _record("Circle", {"name": "radius", "type": "double"})
SQUARE = _record("Square", {"name": "side", "type": "int"}, {"name": "label", "type": "string"})
# fastavro picks the branch of a union of records by counting matching keys: not compiled.
SHAPES = _record("Shapes", {"name": "shape", "type": ["null", CIRCLE, SQUARE]})
# fastavro writes a Python float as the later double even when float comes first.
NUMBERS = _record("Numbers", {"name": "n", "type": ["float", "double"]})
# A union of a string and an array: neither branch is null, one is not simple.
WORDS = _record("Words", {"name": "w", "type": ["string", {"type": "array", "items": "string"}]})
EXOTIC: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "test.shapes": (
        SHAPES,
        [{"shape": {"side": 2, "label": "sq"}}, {"shape": {"radius": 1.5}}, {"shape": None}],
    ),
    "test.numbers": (NUMBERS, [{"n": 1.5}, {"n": 3}]),
    "test.words": (WORDS, [{"w": "one"}, {"w": ["a", "b"]}]),
}


@pytest.fixture(scope="module")
def exotic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Codec, BinaryCodec]:
    root = copy_real(tmp_path_factory.mktemp("exotic") / "schemas")
    for name, (schema, _) in EXOTIC.items():
        add_event(root, name, {1: schema})
    registry = load_registry(root)
    return Codec(registry), BinaryCodec(registry, compiled=False)


@pytest.mark.parametrize("schema", [SHAPES, NUMBERS, WORDS])
def test_the_model_refuses_what_it_cannot_compile(schema: dict[str, Any]) -> None:
    from fastavro import parse_schema

    with pytest.raises(UnsupportedSchemaError):
        model_of(parse_schema(schema))


def test_unsupported_types_fall_back_and_the_rest_stay_compiled(
    exotic: tuple[Codec, BinaryCodec],
) -> None:
    codec, _ = exotic
    assert not set(EXOTIC) & codec.compiled
    assert {"chat.message", "search.completed", "nexus.envelope"} <= codec.compiled


@pytest.mark.parametrize(
    ("type_name", "payload"),
    [(name, payload) for name, (_, payloads) in EXOTIC.items() for payload in payloads],
)
def test_fallback_types_round_trip_with_fastavros_bytes(
    exotic: tuple[Codec, BinaryCodec], type_name: str, payload: dict[str, Any]
) -> None:
    codec, oracle = exotic
    envelope = Envelope(type=type_name, payload=payload, metadata=metadata())
    value = codec.encode(envelope)
    assert value == oracle.encode(envelope)
    decoded = codec.decode(value)
    assert decoded == oracle.decode(value)
    assert decoded.metadata == envelope.metadata
    # The compiled envelope carries a fastavro payload just the same.
    assert decoded.payload == {k: float(v) if k == "n" else v for k, v in payload.items()}


def test_an_envelope_that_cannot_be_compiled_falls_back(tmp_path: Path) -> None:
    root = copy_real(tmp_path / "schemas")
    add_envelope_v2(root, {"name": "origin", "type": ["null", CIRCLE, SQUARE], "default": None})
    old = Codec(load_registry(copy_real(tmp_path / "old")))
    codec = Codec(load_registry(root))
    assert "nexus.envelope" not in codec.compiled
    assert "chat.message" in codec.compiled

    envelope = Envelope(type="chat.message", payload={"text": "hi"}, metadata=metadata())
    expected = Envelope(
        type="chat.message", payload={"text": "hi", "reply_to": None}, metadata=metadata()
    )
    assert codec.decode(codec.encode(envelope)) == expected
    assert codec.decode(old.encode(envelope)) == expected  # v1 records still readable


def test_a_newer_envelope_with_an_extra_field_is_compiled(tmp_path: Path) -> None:
    root = copy_real(tmp_path / "schemas")
    add_envelope_v2(root, {"name": "region", "type": "string", "default": "eu-1"})
    registry = load_registry(root)
    codec, oracle = Codec(registry), BinaryCodec(registry, compiled=False)
    assert "nexus.envelope" in codec.compiled

    envelope = Envelope(
        type="chat.message", payload={"text": "hi", "reply_to": None}, metadata=metadata()
    )
    value = codec.encode(envelope)
    assert value == oracle.encode(envelope)  # the region default written by both
    assert value.endswith(b"\x08eu-1")
    assert codec.decode(value) == envelope == oracle.decode(value)


def test_a_schema_nested_deeper_than_python_compiles_falls_back(tmp_path: Path) -> None:
    items: Any = "int"
    for _ in range(30):
        items = {"type": "array", "items": items}
    root = copy_real(tmp_path / "schemas")
    add_event(root, "test.deep", {1: _record("Deep", {"name": "cube", "type": items})})
    codec = Codec(load_registry(root))
    assert "test.deep" not in codec.compiled
    value: Any = [7]
    for _ in range(29):
        value = [value, []]
    envelope = Envelope(type="test.deep", payload={"cube": value}, metadata=metadata())
    assert codec.decode(codec.encode(envelope)) == envelope
