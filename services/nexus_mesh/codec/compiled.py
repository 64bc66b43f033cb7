"""Encoders and decoders compiled from the newest schema versions.

For each payload type, and for the envelope with its metadata record, the generators of
:mod:`gen_encode` and :mod:`gen_decode` produce one straight-line Python function each way,
specialised to the schema: no per-field dictionary of writers, no BytesIO, no schema walk at
run time. That is what makes the codec several times faster than calling fastavro, which
spends most of its time interpreting the schema for every record.

A schema the model cannot express, or nested deeper than CPython compiles (it allows 20
nested loops), raises :class:`~nexus_mesh.codec.avro_model.UnsupportedSchemaError`; the
caller then keeps fastavro for it. Only the newest version of each subject is compiled:
older writers need schema resolution, which stays with fastavro.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from nexus_mesh.codec import gen_decode, gen_encode, wire
from nexus_mesh.codec.avro_model import (
    Field,
    Primitive,
    Record,
    Union,
    UnsupportedSchemaError,
    model_of,
)
from nexus_mesh.codec.codegen import Source, literal
from nexus_mesh.codec.framing import HEADER_SIZE, header
from nexus_mesh.envelope import Metadata
from nexus_mesh.registry.model import SchemaVersion

PayloadWriter = Callable[[Any], bytes]
"""Payload -> single-object bytes; SchemaMismatchError (or anything) when it does not fit."""
PayloadReader = Callable[[bytes, int, int], Any]
"""(buffer, body start, end) -> payload; raises anything on malformed bytes."""
EnvelopeWriter = Callable[[str, bytes, bytes, Metadata], bytes]
"""(type, type as an Avro string, payload bytes, metadata) -> record value."""
EnvelopeRead = tuple[str, bytes, int, int, Metadata]
"""Type, the buffer holding the framed payload, its start and end, metadata."""
EnvelopeReader = Callable[[bytes], EnvelopeRead]

_METADATA_FIELDS = tuple(field.name for field in dataclasses.fields(Metadata))


@dataclass(frozen=True, slots=True)
class CompiledPayload:
    write: PayloadWriter
    read: PayloadReader


@dataclass(frozen=True, slots=True)
class CompiledEnvelope:
    write: EnvelopeWriter
    read: EnvelopeReader


def encoded_string(text: str) -> bytes:
    """``text`` as an Avro string (length, UTF-8), as the envelope's type field holds it."""
    data = text.encode()
    return wire.length(len(data)) + data


def compile_payload(version: SchemaVersion) -> CompiledPayload:
    """Writer and reader of ``version``; raises UnsupportedSchemaError to leave it to fastavro."""
    with _too_deep_is_unsupported():
        return _compile_payload(version)


def compile_envelope(version: SchemaVersion, types: Mapping[bytes, str]) -> CompiledEnvelope:
    """Writer and reader of the envelope ``version``; ``types`` maps each registered type's
    UTF-8 name to the name, so reading a known type costs a lookup instead of a decode."""
    with _too_deep_is_unsupported():
        return _compile_envelope(version, types)


@contextmanager
def _too_deep_is_unsupported() -> Iterator[None]:
    try:
        yield
    except (SyntaxError, RecursionError) as exc:  # "too many statically nested blocks"
        raise UnsupportedSchemaError(f"nested too deeply to compile: {exc}") from None


def _compile_payload(version: SchemaVersion) -> CompiledPayload:
    model = model_of(version.parsed)
    src = Source(gen_encode.NAMESPACE)
    src.line(f"out = [{src.const(header(version.fingerprint), 'header')}]")
    encoder = gen_encode.Encoder(src)
    encoder.fields(model, encoder.record_values(model, "payload", ()), ())
    src.line("return b''.join(out)")
    write = src.compile("write", ["payload"], f"{_name(version)} write")

    src = Source(gen_decode.NAMESPACE)
    gen_decode.Decoder(src).value(model, "value")
    _expect_end(src)
    src.line("return value")
    read = src.compile("read", ["d", "p", "end"], f"{_name(version)} read")
    return CompiledPayload(write=write, read=read)


def _compile_envelope(version: SchemaVersion, types: Mapping[bytes, str]) -> CompiledEnvelope:
    model = model_of(version.parsed)
    fields = {field.name: field.node for field in model.fields}
    metadata = fields.get("metadata")
    if fields.get("type") != Primitive("string") or fields.get("payload") != Primitive("bytes"):
        raise UnsupportedSchemaError("the envelope's type and payload must be string and bytes")
    if not isinstance(metadata, Record):
        raise UnsupportedSchemaError("the envelope's metadata must be a record")
    if not set(_METADATA_FIELDS) <= {field.name for field in metadata.fields}:
        raise UnsupportedSchemaError("the metadata record lacks fields of Metadata")
    return CompiledEnvelope(
        write=_envelope_writer(version, model, metadata),
        read=_envelope_reader(version, model, metadata, types),
    )


def _envelope_writer(version: SchemaVersion, model: Record, metadata: Record) -> EnvelopeWriter:
    src = Source(gen_encode.NAMESPACE)
    encoder = gen_encode.Encoder(src)
    src.line(f"out = [{src.const(header(version.fingerprint), 'header')}]")
    for field in model.fields:
        if field.name == "type":
            src.line("out.append(type_field)")
        elif field.name == "payload":
            src.line("n = len(payload)")
            src.line(f"out.append(_LENGTHS[n] if n < {wire.LENGTH_TABLE} else _length(n))")
            src.line("out.append(payload)")
        elif field.name == "metadata":
            names = [src.var("f") for _ in metadata.fields]
            known = [
                (name, f.name)
                for name, f in zip(names, metadata.fields, strict=True)
                if f.name in _METADATA_FIELDS
            ]
            # One C-level call fetches every attribute as a tuple (Metadata has many fields).
            getter = src.const(attrgetter(*(attribute for _, attribute in known)), "get")
            targets = "".join(f"{name}, " for name, _ in known)
            src.line(
                f"{targets}= {getter}(meta)"
                if len(known) > 1
                else f"{targets[:-2]} = {getter}(meta)"
            )
            for name, field_ in zip(names, metadata.fields, strict=True):
                if field_.name not in _METADATA_FIELDS:
                    src.line(f"{name} = {_default(src, field_.name, field_)}")
            encoder.fields(metadata, names, ())
        else:
            value = src.var("x")
            src.line(f"{value} = {_default(src, field.name, field)}")
            encoder.value(field.node, value, (literal(field.name),))
    src.line("return b''.join(out)")
    write: EnvelopeWriter = src.compile(
        "write", ["type_name", "type_field", "payload", "meta"], f"{_name(version)} write"
    )
    return write


def _default(src: Source, name: str, field: Field) -> str:
    """What fastavro writes for a field the caller has no value for: its default, or null
    when the type allows it; anything else could never be written, so fastavro keeps it."""
    if field.has_default:
        return src.const(field.default, "default")
    if isinstance(field.node, Union) and Primitive("null") in field.node.branches:
        return "None"
    raise UnsupportedSchemaError(f"envelope field {name!r} has no value and no default")


def _envelope_reader(
    version: SchemaVersion, model: Record, metadata: Record, types: Mapping[bytes, str]
) -> EnvelopeReader:
    src = Source(gen_decode.NAMESPACE)
    decoder = gen_decode.Decoder(src)
    src.line(f"p = {HEADER_SIZE}")
    src.line("end = len(d)")
    for field in model.fields:
        if field.name == "type":
            decoder.span("string")
            src.line("name = d[p:e]")
            src.line("p = e")
            src.line(f"type_name = {src.const(dict(types), 'types')}.get(name)")
            with src.block("if type_name is None:"):
                src.line("type_name = name.decode()")
        elif field.name == "payload":
            decoder.span("payload")
            src.line("start = p")
            src.line("stop = p = e")
        elif field.name == "metadata":
            names = decoder.fields(metadata)
            _build_metadata(src, names, metadata)
        else:
            decoder.value(field.node, src.var("x"))  # a later version's field: read past it
    _expect_end(src)
    src.line("return type_name, d, start, stop, meta")
    read: EnvelopeReader = src.compile("read", ["d"], f"{_name(version)} read")
    return read


def _build_metadata(src: Source, names: list[str], metadata: Record) -> None:
    values = {f.name: name for name, f in zip(names, metadata.fields, strict=True)}
    cls = src.const(Metadata, "Metadata")
    if _slots_only(Metadata):
        # Filling the slots of a bare instance is ~4x cheaper than the keyword __init__,
        # and decode builds one per record. The attribute names written here are
        # Metadata's own (checked to be identifiers), never names read from a schema.
        src.line(f"meta = {src.const(object.__new__, 'new')}({cls})")
        for attribute in _METADATA_FIELDS:
            src.line(f"meta.{attribute} = {values[attribute]}")
    else:
        items = ", ".join(f"{literal(a)}: {values[a]}" for a in _METADATA_FIELDS)
        src.line(f"meta = {cls}(**{{{items}}})")


def _slots_only(cls: type) -> bool:
    """Whether every field is a plain slot and __init__ does nothing more than set them."""
    return (
        "__slots__" in vars(cls)
        and not hasattr(cls, "__post_init__")
        and all(name.isidentifier() and not keyword.iskeyword(name) for name in _METADATA_FIELDS)
    )


def _name(version: SchemaVersion) -> str:
    """How tracebacks name the generated code: the fingerprint tells apart two registries'
    ``chat.message v1`` in one process (tests build many)."""
    return f"{version.label} {version.fingerprint.hex()}"


def _expect_end(src: Source) -> None:
    with src.block("if p != end:"):
        src.line("raise _trailing(p, end)")
