"""Straight-line Avro writers generated from an :mod:`avro_model` tree.

The generated function appends byte strings to a list ``out`` and the caller joins them
once. Every value is checked the way fastavro's validator checks it (which is also how
fastavro picks a union branch), so the compiled writer accepts exactly what the fastavro
path accepts in a union, and is stricter where fastavro's plain writer coerces silently
(``True`` or ``1.5`` written as a long, any object written as a boolean, an int too large
for its type): each of those is a :class:`~nexus_mesh.codec.checks.SchemaMismatchError`
naming the field. Accepted values produce exactly fastavro's bytes. (One deliberate
exception: fastavro's ``(branch name, value)`` tuple notation for unions is refused.)

Errors carry their path as a tuple built only when raising, from literals and the loop
variables in scope, so the happy path pays nothing for good messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nexus_mesh.codec import checks, wire
from nexus_mesh.codec.avro_model import (
    Array,
    Enum,
    Fixed,
    Logical,
    Map,
    Node,
    Primitive,
    Record,
    Union,
    kind_of,
)
from nexus_mesh.codec.codegen import Source, literal, tuple_of

# What the generated code finds in its namespace (names fixed here, not schema-derived).
NAMESPACE: dict[str, object] = {
    "_VARINTS": wire.VARINTS,
    "_LENGTHS": wire.LENGTHS,
    "_varint": wire.varint,
    "_length": wire.length,
    "_pack_double": wire.pack_double,
    "_pack_float": wire.pack_float,
    "_as_int": checks.as_int,
    "_as_real": checks.as_real,
    "_as_str": checks.as_str,
    "_as_bytes": checks.as_bytes,
    "_as_fixed": checks.as_fixed,
    "_unencodable": checks.unencodable,
    "_unconvertible": checks.unconvertible,
    "_bad_symbol": checks.bad_symbol,
    "_check_array": checks.check_array,
    "_check_map": checks.check_map,
    "_record_values": checks.record_values,
    "_mismatch": checks.mismatch,
    "_no_branch": checks.no_branch,
    "_is_int": checks.is_int,
    "_is_long": checks.is_long,
    "_is_real": checks.is_real,
    "_bytes_like": (bytes, bytearray),
}

_RANGES = {"int": (wire.INT_MIN, wire.INT_MAX), "long": (wire.LONG_MIN, wire.LONG_MAX)}
_VARINT_TABLE = literal(wire.VARINT_TABLE)
_LENGTH_TABLE = literal(wire.LENGTH_TABLE)

# A path is a tuple of expressions: field-name literals, loop indexes, ``(key,)`` map keys.
Path = tuple[str, ...]


class Encoder:
    """Emits, into ``source``, code that appends the encoding of a local to ``out``."""

    def __init__(self, source: Source) -> None:
        self.src = source

    def value(self, node: Node, var: str, path: Path, in_union: bool = False) -> None:
        if isinstance(node, Primitive):
            self._logical(node.logical, var, path)
            self._primitive(node.kind, var, path)
        elif isinstance(node, Record):
            self.fields(node, self.record_values(node, var, path), path)
        elif isinstance(node, Union):
            self._union(node, var, path)
        elif isinstance(node, Array):
            self._array(node, var, path, in_union)
        elif isinstance(node, Map):
            self._map(node, var, path)
        elif isinstance(node, Enum):
            self._enum(node, var, path)
        else:
            self._logical(node.logical, var, path)
            self._fixed(node, var, path)

    def record_values(self, node: Record, var: str, path: Path) -> list[str]:
        """Load the record's field values into fresh locals; returns their names."""
        src = self.src
        names = [src.var("f") for _ in node.fields]
        target = "".join(f"{name}, " for name in names) or "_"
        spec = src.const(tuple(field.name for field in node.fields), "names")
        defaults = src.const(tuple((f.has_default, f.default) for f in node.fields), "defaults")
        slow = f"{target} = _record_values({var}, {tuple_of(path)}, {spec}, {defaults})"
        # Fast path: a dict holding exactly the schema's fields. Anything else (missing keys
        # to default, extra keys to report, other mappings) takes the checked slow path,
        # which never calls __getitem__ of a key that is absent (defaultdicts stay intact).
        with src.block(f"if type({var}) is dict and len({var}) == {len(names)}:"):
            with src.block("try:"):
                for name, field in zip(names, node.fields, strict=True):
                    src.line(f"{name} = {var}[{literal(field.name)}]")
            with src.block("except KeyError:"):
                src.line(slow)
        with src.block("else:"):
            src.line(slow)
        return names

    def fields(self, node: Record, names: list[str], path: Path) -> None:
        for name, field in zip(names, node.fields, strict=True):
            self.value(field.node, name, (*path, literal(field.name)))

    def string(self, var: str, path: Path, expected: str = "string") -> None:
        src, where = self.src, tuple_of(path)
        with src.block(f"if type({var}) is not str:"):
            src.line(f"{var} = _as_str({var}, {where}, {literal(expected)})")
        encoded, size = src.var("e"), src.var("n")
        with src.block("try:"):
            src.line(f"{encoded} = {var}.encode()")
        with src.block("except UnicodeEncodeError as exc:"):
            src.line(f"raise _unencodable({where}, exc) from None")
        self._sized(encoded, size)

    def _sized(self, var: str, size: str) -> None:
        self._length_prefix(var, size)
        self.src.line(f"out.append({var})")

    def _length_prefix(self, var: str, size: str) -> None:
        """Append the length of ``var`` (a string's bytes, or a block's item count)."""
        src = self.src
        src.line(f"{size} = len({var})")
        src.line(f"out.append(_LENGTHS[{size}] if {size} < {_LENGTH_TABLE} else _length({size}))")

    def _logical(self, logical: Logical | None, var: str, path: Path) -> None:
        if logical is None:
            return
        src = self.src
        prepare = src.const(logical.prepare, "prepare")
        schema = src.const(logical.schema, "schema")
        with src.block("try:"):
            src.line(f"{var} = {prepare}({var}, {schema})")
        with src.block("except Exception as exc:"):
            # The key comes from the schema's logicalType: a literal, never code.
            key = literal(logical.key)
            src.line(f"raise _unconvertible({tuple_of(path)}, {key}, exc) from None")

    def _primitive(self, kind: str, var: str, path: Path) -> None:
        src, where = self.src, tuple_of(path)
        if kind == "null":
            with src.block(f"if {var} is not None:"):
                src.line(f"raise _mismatch({where}, 'null', {var})")
        elif kind == "boolean":
            with src.block(f"if {var} is True:"):
                src.line("out.append(b'\\x01')")
            with src.block(f"elif {var} is False:"):
                src.line("out.append(b'\\x00')")
            with src.block("else:"):
                src.line(f"raise _mismatch({where}, 'boolean', {var})")
        elif kind in _RANGES:
            low, high = _RANGES[kind]
            test = f"type({var}) is not int or not {low} <= {var} <= {high}"
            with src.block(f"if {test}:"):
                src.line(f"{var} = _as_int({var}, {where}, {low}, {high}, {literal(kind)})")
            zigzag = src.var("u")
            src.line(f"{zigzag} = ({var} << 1) ^ ({var} >> 63)")
            src.line(
                f"out.append(_VARINTS[{zigzag}] if {zigzag} < {_VARINT_TABLE} "
                f"else _varint({zigzag}))"
            )
        elif kind in ("float", "double"):
            with src.block(f"if type({var}) is not float:"):
                src.line(f"{var} = _as_real({var}, {where}, {literal(kind)})")
            src.line(f"out.append(_pack_{kind}({var}))")
        elif kind == "bytes":
            with src.block(f"if type({var}) is not bytes:"):
                src.line(f"{var} = _as_bytes({var}, {where})")
            self._sized(var, src.var("n"))
        else:
            self.string(var, path)

    def _fixed(self, node: Fixed, var: str, path: Path) -> None:
        src = self.src
        with src.block(f"if type({var}) is not bytes or len({var}) != {node.size}:"):
            src.line(f"{var} = _as_fixed({var}, {tuple_of(path)}, {node.size})")
        src.line(f"out.append({var})")

    def _enum(self, node: Enum, var: str, path: Path) -> None:
        src = self.src
        ordinals = src.const(
            {symbol: wire.varint(index << 1) for index, symbol in enumerate(node.symbols)}, "enum"
        )
        symbols = src.const(node.symbols, "symbols")
        with src.block("try:"):
            src.line(f"out.append({ordinals}[{var}])")
        with src.block("except (KeyError, TypeError):"):
            src.line(f"raise _bad_symbol({tuple_of(path)}, {var}, {symbols}) from None")

    @contextmanager
    def _blocks(self, var: str) -> Iterator[None]:
        """Arrays and maps: one block of all the items in ``var`` (when there are any; the
        lines emitted inside write them), then the empty block that ends them."""
        src = self.src
        with src.block(f"if {var}:"):
            self._length_prefix(var, src.var("n"))
            yield
        src.line("out.append(b'\\x00')")

    def _array(self, node: Array, var: str, path: Path, in_union: bool) -> None:
        src = self.src
        with src.block(f"if type({var}) is not list:"):
            src.line(f"_check_array({var}, {tuple_of(path)}, {literal(in_union)})")
        with self._blocks(var):
            index, item = src.var("i"), src.var("v")
            with src.block(f"for {index}, {item} in enumerate({var}):"):
                self.value(node.items, item, (*path, index))

    def _map(self, node: Map, var: str, path: Path) -> None:
        src, where = self.src, tuple_of(path)
        with src.block(f"if type({var}) is not dict:"):
            src.line(f"_check_map({var}, {where})")
        with self._blocks(var):
            key, item = src.var("k"), src.var("v")
            with src.block(f"for {key}, {item} in {var}.items():"):
                self.string(key, path, "string map key")
                self.value(node.values, item, (*path, f"({key},)"))

    def _union(self, node: Union, var: str, path: Path) -> None:
        src = self.src
        kinds = [kind_of(branch) for branch in node.branches]
        if len(kinds) == 2 and "null" in kinds:
            null = kinds.index("null")
            other = null ^ 1
            with src.block(f"if {var} is None:"):
                src.line(f"out.append({literal(wire.varint(null << 1))})")
            with src.block("else:"):
                src.line(f"out.append({literal(wire.varint(other << 1))})")
                self.value(node.branches[other], var, path, in_union=True)
            return
        keyword = "if"
        for index, branch in enumerate(node.branches):
            with src.block(f"{keyword} {self._matches(branch, var)}:"):
                src.line(f"out.append({literal(wire.varint(index << 1))})")
                self.value(branch, var, path, in_union=True)
            keyword = "elif"
        with src.block("else:"):
            shown = src.const(tuple(kinds), "kinds")
            src.line(f"raise _no_branch({tuple_of(path)}, {var}, {shown})")

    def _matches(self, node: Node, var: str) -> str:
        """fastavro's validator for a simple union branch, as an expression."""
        if isinstance(node, Enum):
            symbols = self.src.const(frozenset(node.symbols), "symbols")
            return f"(isinstance({var}, str) and {var} in {symbols})"
        if isinstance(node, Fixed):
            return f"(isinstance({var}, _bytes_like) and len({var}) == {node.size})"
        if not isinstance(node, Primitive):
            raise AssertionError("the model admits only simple branches here")
        return {
            "null": f"{var} is None",
            "boolean": f"({var} is True or {var} is False)",
            "int": f"_is_int({var})",
            "long": f"_is_long({var})",
            "float": f"_is_real({var})",
            "double": f"_is_real({var})",
            "bytes": f"isinstance({var}, _bytes_like)",
            "string": f"isinstance({var}, str)",
        }[node.kind]
