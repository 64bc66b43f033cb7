"""Avro binary primitives: zigzag varints, IEEE floats, and reading errors.

The generated code inlines the common case (a one-byte varint or length) and calls into this
module only for the rest. Keeping the rare paths out of line keeps the generated functions
short, and short functions are what CPython runs fastest.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

# Varints of zigzag values below VARINT_TABLE, and of lengths (zigzag 2n) below LENGTH_TABLE:
# most strings, counts and small ints are a list index instead of a loop.
VARINT_TABLE = 4096
LENGTH_TABLE = VARINT_TABLE // 2

PackFloat = Callable[[float], bytes]
pack_double: PackFloat = struct.Struct("<d").pack
unpack_double = struct.Struct("<d").unpack_from
unpack_float = struct.Struct("<f").unpack_from
_pack_float: PackFloat = struct.Struct("<f").pack


class MalformedError(Exception):
    """Bytes that are not valid Avro for the schema being read."""


def describe(exc: BaseException) -> str:
    """What went wrong while reading, for a CodecError message."""
    if isinstance(exc, MalformedError):
        return str(exc)
    if isinstance(exc, IndexError | struct.error):
        return f"truncated: a value runs past the end of the bytes ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


# --- writing --------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    """The varint of an already zigzagged (non-negative) ``value``."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


VARINTS: list[bytes] = [_varint(value) for value in range(VARINT_TABLE)]
LENGTHS: list[bytes] = VARINTS[::2]


def varint(value: int) -> bytes:
    """The varint of a zigzagged value (any size; the generated code uses VARINTS first).

    Unrolled up to six bytes, which covers millisecond timestamps (41 bits, zigzagged 42):
    one tuple is about a fifth cheaper than a loop of appends.
    """
    if value < 0x4000:
        if value < VARINT_TABLE:
            return VARINTS[value]
        return bytes((value & 0x7F | 0x80, value >> 7))
    if value < 0x200000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if value < 0x10000000:
        return bytes(
            (value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14 & 0x7F | 0x80, value >> 21)
        )
    if value < 0x800000000:
        return bytes(
            (
                value & 0x7F | 0x80,
                value >> 7 & 0x7F | 0x80,
                value >> 14 & 0x7F | 0x80,
                value >> 21 & 0x7F | 0x80,
                value >> 28,
            )
        )
    if value < 0x40000000000:
        return bytes(
            (
                value & 0x7F | 0x80,
                value >> 7 & 0x7F | 0x80,
                value >> 14 & 0x7F | 0x80,
                value >> 21 & 0x7F | 0x80,
                value >> 28 & 0x7F | 0x80,
                value >> 35,
            )
        )
    return _varint(value)


def length(count: int) -> bytes:
    """A length or block count (non-negative, so its zigzag is ``2 * count``)."""
    return VARINTS[count << 1] if count < LENGTH_TABLE else _varint(count << 1)


def pack_float(value: float) -> bytes:
    """IEEE single precision, overflowing to infinity as fastavro's C cast does."""
    try:
        return _pack_float(value)
    except OverflowError:
        return _pack_float(float("inf") if value > 0 else float("-inf"))


# --- reading --------------------------------------------------------------------------


def read_long(data: bytes, position: int) -> tuple[int, int]:
    """A zigzag varint of at most 10 bytes that fits a long, and the position after it.

    Unrolled up to six bytes (timestamps in milliseconds), then a loop.
    """
    byte = data[position]
    value = byte & 0x7F
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 1
    byte = data[position + 1]
    value |= (byte & 0x7F) << 7
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 2
    byte = data[position + 2]
    value |= (byte & 0x7F) << 14
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 3
    byte = data[position + 3]
    value |= (byte & 0x7F) << 21
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 4
    byte = data[position + 4]
    value |= (byte & 0x7F) << 28
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 5
    byte = data[position + 5]
    value |= (byte & 0x7F) << 35
    if byte < 0x80:
        return (value >> 1) ^ -(value & 1), position + 6
    return _read_long_loop(data, position)


def _read_long_loop(data: bytes, position: int) -> tuple[int, int]:
    byte = data[position]
    value = byte & 0x7F
    shift = 7
    position += 1
    while byte & 0x80:
        if shift == 70:
            raise MalformedError(f"varint longer than 10 bytes before offset {position}")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        shift += 7
        position += 1
    if value >> 64:
        raise MalformedError(f"varint before offset {position} does not fit in a long")
    return (value >> 1) ^ -(value & 1), position


def read_int(data: bytes, position: int) -> tuple[int, int]:
    value, after = read_long(data, position)
    if not INT_MIN <= value <= INT_MAX:
        raise MalformedError(f"varint at offset {position} does not fit in an int")
    return value, after


def read_index(data: bytes, position: int) -> tuple[int, int]:
    """A union index written in more than one byte (not minimal, still valid Avro: fastavro
    and Java read it), given back zigzagged as the generated code compares one-byte ones."""
    value, after = read_long(data, position)
    return (value << 1) ^ (value >> 63), after


def read_length(data: bytes, position: int) -> tuple[int, int]:
    value, after = read_long(data, position)
    if value < 0:
        raise MalformedError(f"negative length {value} at offset {position}")
    return value, after


def read_span(data: bytes, position: int) -> tuple[int, int]:
    """Where the bytes of a length-prefixed value start and end."""
    size, position = read_length(data, position)
    return position, position + size


def read_count(data: bytes, position: int) -> tuple[int, int]:
    """A block count; a negative one is followed by the block's size in bytes (skipped)."""
    count, position = read_long(data, position)
    if count < 0:
        count = -count
        size, position = read_long(data, position)
        if size < 0:
            raise MalformedError(f"negative block size {size} before offset {position}")
    return count, position


def past_end(what: str, size: int, position: int, end: int) -> MalformedError:
    return MalformedError(f"{what} of {size} bytes at offset {position} runs past the end ({end})")


def bad_index(what: str, index: int, position: int) -> MalformedError:
    return MalformedError(f"{what} index {index} at offset {position} is out of range")


def bad_union(zigzag: int, after: int) -> MalformedError:
    index = (zigzag >> 1) ^ -(zigzag & 1)
    return MalformedError(f"union index {index} before offset {after} is out of range")


def trailing(position: int, end: int) -> MalformedError:
    if position > end:
        return MalformedError(f"truncated: the value needs {position - end} bytes more")
    return MalformedError(f"{end - position} bytes after the end")
