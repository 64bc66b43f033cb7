"""Straight-line Avro readers generated from an :mod:`avro_model` tree.

The generated code reads ``d`` (bytes) by index from position ``p`` and must stop exactly at
``end``. Every length and block count is checked against ``end`` before it is used, so a
forged length cannot allocate or loop beyond the input; single bytes read past the input
raise IndexError, and the caller reports anything raised as a CodecError. Values come back
as fastavro returns them: dicts for records, lists, dicts, bytes, None for a null branch,
and fastavro's own conversion for logical types.
"""

from __future__ import annotations

from collections.abc import Callable

from nexus_mesh.codec import wire
from nexus_mesh.codec.avro_model import (
    Array,
    Enum,
    Logical,
    Map,
    Node,
    Primitive,
    Record,
    Union,
)
from nexus_mesh.codec.codegen import Source, literal

NAMESPACE: dict[str, object] = {
    "_read_long": wire.read_long,
    "_read_int": wire.read_int,
    "_read_span": wire.read_span,
    "_read_count": wire.read_count,
    "_unpack_double": wire.unpack_double,
    "_unpack_float": wire.unpack_float,
    "_past_end": wire.past_end,
    "_bad_index": wire.bad_index,
    "_read_index": wire.read_index,
    "_bad_union": wire.bad_union,
    "_MalformedError": wire.MalformedError,
    "_trailing": wire.trailing,
}


class Decoder:
    """Emits, into ``source``, code that reads one value into a local."""

    def __init__(self, source: Source) -> None:
        self.src = source

    def value(self, node: Node, target: str) -> None:
        if isinstance(node, Primitive):
            self._primitive(node.kind, target)
            self._logical(node.logical, target)
        elif isinstance(node, Record):
            names = self.fields(node)
            items = ", ".join(
                f"{literal(f.name)}: {name}" for f, name in zip(node.fields, names, strict=True)
            )
            self.src.line(f"{target} = {{{items}}}")
        elif isinstance(node, Union):
            self._union(node, target)
        elif isinstance(node, Array):
            self._blocks(target, "[]", lambda: self._array_item(node, target))
        elif isinstance(node, Map):
            self._blocks(target, "{}", lambda: self._map_entry(node, target))
        elif isinstance(node, Enum):
            self._enum(node, target)
        else:
            self._fixed(target, node.size)
            self._logical(node.logical, target)

    def fields(self, node: Record) -> list[str]:
        """Read each field into a fresh local, in schema order; returns their names."""
        names = [self.src.var("f") for _ in node.fields]
        for name, field in zip(names, node.fields, strict=True):
            self.value(field.node, name)
        return names

    def span(self, what: str) -> None:
        """Leave ``p`` at the first byte of a length-prefixed value and ``e`` after its last,
        checked against ``end``; the one-byte length (even, below 0x80) inline."""
        self._varint("0x81", "p, e = _read_span(d, p)", "p += 1", "e = p + (b >> 1)")
        with self.src.block("if e > end:"):
            self.src.line(f"raise _past_end({literal(what)}, e - p, p, end)")

    def string(self, target: str) -> None:
        self.span("string")
        self.src.line(f"{target} = d[p:e].decode()")
        self.src.line("p = e")

    def _fixed(self, target: str, size: int) -> None:
        src = self.src
        src.line(f"e = p + {size}")
        with src.block("if e > end:"):
            src.line(f"raise _past_end('fixed', {size}, p, end)")
        src.line(f"{target} = d[p:e]")
        src.line("p = e")

    def _varint(self, mask: str, slow: str, *fast: str) -> None:
        """A varint read: ``b = d[p]``; when ``b & mask`` is clear (0x80: one byte; 0x81: one
        byte and not negative) the ``fast`` lines decode it inline, else ``slow`` calls into
        :mod:`wire`."""
        src = self.src
        src.line("b = d[p]")
        with src.block(f"if b & {mask}:"):
            src.line(slow)
        with src.block("else:"):
            for line in fast:
                src.line(line)

    def _long(self, target: str, reader: str) -> None:
        self._varint(
            "0x80", f"{target}, p = {reader}(d, p)", f"{target} = (b >> 1) ^ -(b & 1)", "p += 1"
        )

    def _primitive(self, kind: str, target: str) -> None:
        src = self.src
        if kind == "null":
            src.line(f"{target} = None")
        elif kind == "boolean":
            src.line("b = d[p]")
            with src.block("if b > 1:"):
                src.line("raise _bad_index('boolean', b, p)")
            src.line(f"{target} = b == 1")
            src.line("p += 1")
        elif kind == "int":
            self._long(target, "_read_int")
        elif kind == "long":
            self._long(target, "_read_long")
        elif kind in ("float", "double"):
            src.line(f"{target} = _unpack_{kind}(d, p)[0]")
            src.line(f"p += {4 if kind == 'float' else 8}")
        elif kind == "bytes":
            self.span("bytes")
            src.line(f"{target} = d[p:e]")
            src.line("p = e")
        else:
            self.string(target)

    def _logical(self, logical: Logical | None, target: str) -> None:
        if logical is not None:
            read = self.src.const(logical.read, "read")
            schema = self.src.const(logical.schema, "schema")
            self.src.line(f"{target} = {read}({target}, {schema}, None)")

    def _enum(self, node: Enum, target: str) -> None:
        src = self.src
        index = src.var("i")
        self._varint("0x81", f"{index}, p = _read_long(d, p)", f"{index} = b >> 1", "p += 1")
        with src.block(f"if not 0 <= {index} < {len(node.symbols)}:"):
            src.line(f"raise _bad_index('enum', {index}, p)")
        src.line(f"{target} = {src.const(node.symbols, 'symbols')}[{index}]")

    def _union(self, node: Union, target: str) -> None:
        src = self.src
        self._varint("0x80", "b, p = _read_index(d, p)", "p += 1")
        keyword = "if"
        for index, branch in enumerate(node.branches):
            with src.block(f"{keyword} b == {index << 1}:"):
                self.value(branch, target)
            keyword = "elif"
        with src.block("else:"):
            src.line("raise _bad_union(b, p)")

    def _blocks(self, target: str, empty: str, item: Callable[[], None]) -> None:
        """Arrays and maps: blocks of items up to an empty block. Every item consumes at
        least one byte (the model refuses zero-byte array items; map keys have a length),
        so a count larger than the bytes left is corruption, refused before looping."""
        src = self.src
        count = src.var("c")
        src.line(f"{target} = {empty}")
        with src.block("while True:"):
            self._varint("0x81", f"{count}, p = _read_count(d, p)", f"{count} = b >> 1", "p += 1")
            with src.block(f"if not {count}:"):
                src.line("break")
            with src.block(f"if {count} > end - p:"):
                src.line(f"raise _past_end('block of items', {count}, p, end)")
            with src.block(f"for _ in range({count}):"):
                item()

    def _array_item(self, node: Array, target: str) -> None:
        item = self.src.var("v")
        self.value(node.items, item)
        self.src.line(f"{target}.append({item})")

    def _map_entry(self, node: Map, target: str) -> None:
        key, item = self.src.var("k"), self.src.var("v")
        self.string(key)
        self.value(node.values, item)
        self.src.line(f"{target}[{key}] = {item}")
