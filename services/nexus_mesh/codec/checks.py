"""The value checks behind the generated writers: fastavro's validator, rule by rule.

The generated code tests the exact type inline (``type(v) is str``) and calls these only
when that fails: for subclasses and other types fastavro's validator accepts (an int for a
double, a bytearray for bytes or fixed, any mapping for a record), and to build the error.
The union branch tests are the validator's own rules (those of its compiled validator, the
one fastavro runs), so the compiled writer picks the branch fastavro picks.
"""

from __future__ import annotations

import array
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from nexus_mesh.codec.wire import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN

# Path parts: a str is a record field, an int an array index, a 1-tuple a map key.
PathPart = str | int | tuple[str]


class SchemaMismatchError(Exception):
    """A value the schema does not allow; the codec adds which payload or metadata."""

    def __init__(self, parts: tuple[PathPart, ...], problem: str) -> None:
        super().__init__(parts, problem)
        self.parts = parts
        self.problem = problem

    def __str__(self) -> str:
        if not self.parts:
            return self.problem
        return f"field '{render_path(self.parts)}': {self.problem}"


def render_path(parts: tuple[PathPart, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, tuple):
            text += f"[{part[0]!r}]"
        else:
            text += f".{part}" if text else part
    return text


def mismatch(parts: tuple[PathPart, ...], expected: str, value: object) -> SchemaMismatchError:
    return SchemaMismatchError(parts, f"expected {expected}, got {type(value).__name__}")


def as_int(value: Any, parts: tuple[PathPart, ...], low: int, high: int, kind: str) -> int:
    """``value`` as an int in ``[low, high]`` if fastavro's validator takes it as ``kind``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise mismatch(parts, kind, value)
    number = int(value)
    if not low <= number <= high:
        raise SchemaMismatchError(parts, f"{number} is out of range for {kind}")
    return number


def as_real(value: Any, parts: tuple[PathPart, ...], kind: str) -> float:
    """``value`` as a float if fastavro's validator takes it (an int or a Real, no bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise mismatch(parts, kind, value)
    try:
        return float(value)
    except OverflowError:
        raise SchemaMismatchError(parts, f"{value} is out of range for {kind}") from None


def as_str(value: Any, parts: tuple[PathPart, ...], expected: str) -> str:
    if not isinstance(value, str):
        raise mismatch(parts, expected, value)
    return str.__str__(value)  # a plain str: subclasses may override encode


def unencodable(parts: tuple[PathPart, ...], exc: UnicodeEncodeError) -> SchemaMismatchError:
    return SchemaMismatchError(parts, f"not encodable as UTF-8: {exc}")


def unconvertible(parts: tuple[PathPart, ...], logical: str, exc: Exception) -> SchemaMismatchError:
    """fastavro's converter for the logical type ``logical`` refused the value."""
    return SchemaMismatchError(parts, f"cannot convert to {logical}: {type(exc).__name__}: {exc}")


def as_bytes(value: Any, parts: tuple[PathPart, ...]) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise mismatch(parts, "bytes", value)
    return bytes(value)


def as_fixed(value: Any, parts: tuple[PathPart, ...], size: int) -> bytes:
    """``value`` as bytes if it is a fixed of ``size``: bytes or a bytearray, as fastavro's
    (compiled) validator takes it, and as its decimal converter returns a fixed decimal."""
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        sized = isinstance(value, bytes | bytearray)
        shown = f"{len(value)} bytes" if sized else type(value).__name__
        raise SchemaMismatchError(parts, f"expected fixed of {size} bytes, got {shown}")
    return bytes(value)


def bad_symbol(
    parts: tuple[PathPart, ...], value: Any, symbols: tuple[str, ...]
) -> SchemaMismatchError:
    if not isinstance(value, str):
        return mismatch(parts, "enum symbol", value)
    return SchemaMismatchError(parts, f"{value!r} is not one of {', '.join(symbols)}")


def check_array(value: Any, parts: tuple[PathPart, ...], in_union: bool) -> None:
    """Raise unless fastavro's validator takes ``value`` as an array (any sequence but a
    string); a tuple inside a union is fastavro's ``(branch name, value)`` notation."""
    if (
        not isinstance(value, Sequence | array.array)
        or isinstance(value, str)
        or (in_union and isinstance(value, tuple))
    ):
        raise mismatch(parts, "array", value)


def check_map(value: Any, parts: tuple[PathPart, ...]) -> None:
    if not isinstance(value, Mapping):
        raise mismatch(parts, "map", value)


def record_values(
    value: Any,
    parts: tuple[PathPart, ...],
    names: tuple[str, ...],
    defaults: tuple[tuple[bool, Any], ...],
) -> tuple[Any, ...]:
    """The field values of a record in schema order, from any mapping, with defaults filled
    in; the slow path behind the generated ``dict`` fast path."""
    if not isinstance(value, Mapping):
        raise mismatch(parts, "record (a mapping)", value)
    extra = [key for key in value if key not in names]
    if extra:
        shown = sorted(extra, key=repr)[0]
        problem = "not in the schema" if isinstance(shown, str) else "not a field name"
        name = shown if isinstance(shown, str) else repr(shown)
        raise SchemaMismatchError((*parts, name), problem)
    values = []
    for name, (has_default, default) in zip(names, defaults, strict=True):
        if name in value:
            values.append(value[name])
        elif has_default:
            values.append(default)
        else:
            raise SchemaMismatchError((*parts, name), "missing, and the schema gives no default")
    return tuple(values)


# Union branch tests: exactly fastavro's validator, so the same branch wins.


def is_int(value: Any) -> bool:
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and INT_MIN <= int(value) <= INT_MAX
    )


def is_long(value: Any) -> bool:
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and LONG_MIN <= int(value) <= LONG_MAX
    )


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def no_branch(
    parts: tuple[PathPart, ...], value: Any, kinds: tuple[str, ...]
) -> SchemaMismatchError:
    return mismatch(parts, " or ".join(kinds), value)
