"""The JSON form of Avro logical types, for the logical types fastavro converts.

Written (Avro -> JSON), each has one canonical string form:

======================  =============  ==============================
logical type            Avro-native    JSON
======================  =============  ==============================
timestamp-millis        datetime (UTC) ``"2024-05-01T12:00:00.123Z"``
timestamp-micros        datetime (UTC) ``"2024-05-01T12:00:00.123456Z"``
local-timestamp-millis  datetime       ``"2024-05-01T12:00:00.123"``
local-timestamp-micros  datetime       ``"2024-05-01T12:00:00.123456"``
date                    date           ``"2024-05-01"``
time-millis             time           ``"12:00:00.123"``
time-micros             time           ``"12:00:00.123456"``
uuid                    UUID           ``"6f1c2a3e-..."`` (lowercase, hyphenated)
decimal                 Decimal        ``"12.30"`` (exactly ``scale`` decimals)
======================  =============  ==============================

Read (JSON -> Avro), each also takes the underlying Avro value (epoch milliseconds, days,
...) and any ISO 8601 form Python parses; sub-unit precision is truncated, as the encoding
would. A decimal is a string (or an integer) because a JSON number may already have lost
digits. Logical types fastavro does not convert keep their underlying type's JSON form.

From Python code (a service's reply), each also takes its Avro-native value, as a decoded
payload holds it: echoing a request's ``datetime`` needs no conversion. JSON never holds
those types, so what a client may send is unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from nexus_mesh.codec.json_kinds import InvalidValueError, expected

Convert = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOCAL_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class LogicalForm:
    from_json: Convert
    from_raw: Convert
    """Underlying Avro value (as in a schema default) to the Avro-native value."""
    to_json: Convert
    expected: str
    """What the JSON side should be, for messages ("RFC 3339 timestamp string")."""
    json_types: frozenset[type]
    native_types: frozenset[type]


def _is_int(value: Any) -> bool:
    return type(value) is int


def _timestamp(unit: int, aware: bool) -> LogicalForm:
    """``unit`` is the number of microseconds per tick (1000 for millis)."""
    epoch = _EPOCH if aware else _LOCAL_EPOCH
    timespec = "milliseconds" if unit == 1000 else "microseconds"
    what = "RFC 3339 timestamp string" if aware else "ISO 8601 local date-time string"

    def truncate(moment: datetime) -> datetime:
        return moment.replace(microsecond=moment.microsecond - moment.microsecond % unit)

    def from_raw(value: Any) -> datetime:
        try:
            return epoch + timedelta(microseconds=value * unit)
        except OverflowError:
            raise InvalidValueError(f"{value} is out of range for a date-time") from None

    def from_json(value: Any) -> datetime:
        if _is_int(value):
            return from_raw(value)
        if type(value) is datetime:
            moment = value
        elif type(value) is not str:
            raise expected(what, value)
        else:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidValueError(f"expected {what}, got {value!r}") from None
        if aware and moment.tzinfo is None:
            raise InvalidValueError(f"timestamp {value!r} needs a UTC offset or Z")
        if not aware and moment.tzinfo is not None:
            raise InvalidValueError(f"local timestamp {value!r} must not have a UTC offset")
        try:
            return truncate(moment.astimezone(UTC) if aware else moment)
        except OverflowError:
            # "0001-01-01T00:00:00+01:00": a valid form whose UTC moment is before year 1.
            raise InvalidValueError(f"timestamp {value!r} is out of range") from None

    def to_json(value: Any) -> str:
        if _is_int(value):
            value = from_raw(value)
        if aware:
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return str(value.isoformat(timespec=timespec)) + "Z"
        return str(value.isoformat(timespec=timespec))

    return LogicalForm(
        from_json=from_json,
        from_raw=from_raw,
        to_json=to_json,
        expected=what,
        json_types=frozenset({str, int, datetime}),
        native_types=frozenset({datetime, int}),
    )


def _date() -> LogicalForm:
    def from_raw(value: Any) -> date:
        try:
            return _EPOCH_DATE + timedelta(days=value)
        except OverflowError:
            raise InvalidValueError(f"{value} is out of range for a date") from None

    def from_json(value: Any) -> date:
        if _is_int(value):
            return from_raw(value)
        if type(value) is date:
            return value
        if type(value) is not str:
            raise expected("ISO 8601 date string", value)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidValueError(f"expected ISO 8601 date string, got {value!r}") from None

    def to_json(value: Any) -> str:
        return (from_raw(value) if _is_int(value) else value).isoformat()

    return LogicalForm(
        from_json,
        from_raw,
        to_json,
        "ISO 8601 date string",
        frozenset({str, int, date}),
        frozenset({date, int}),
    )


def _time(unit: int) -> LogicalForm:
    timespec = "milliseconds" if unit == 1000 else "microseconds"
    day = 86_400_000_000 // unit

    def from_raw(value: Any) -> time:
        if not 0 <= value < day:
            raise InvalidValueError(f"{value} is out of range for a time of day")
        micros = value * unit
        return time(
            micros // 3_600_000_000,
            micros // 60_000_000 % 60,
            micros // 1_000_000 % 60,
            micros % 1_000_000,
        )

    def from_json(value: Any) -> time:
        if _is_int(value):
            return from_raw(value)
        if type(value) is time:
            moment = value
        elif type(value) is not str:
            raise expected("ISO 8601 time string", value)
        else:
            try:
                moment = time.fromisoformat(value)
            except ValueError:
                raise InvalidValueError(f"expected ISO 8601 time string, got {value!r}") from None
        if moment.tzinfo is not None:
            raise InvalidValueError(f"time {value!r} must not have a UTC offset")
        return moment.replace(microsecond=moment.microsecond - moment.microsecond % unit)

    def to_json(value: Any) -> str:
        moment = from_raw(value) if _is_int(value) else value
        return str(moment.isoformat(timespec=timespec))

    return LogicalForm(
        from_json,
        from_raw,
        to_json,
        "ISO 8601 time string",
        frozenset({str, int, time}),
        frozenset({time, int}),
    )


def _uuid() -> LogicalForm:
    def from_json(value: Any) -> uuid.UUID:
        if type(value) is uuid.UUID:
            return value
        if type(value) is not str:
            raise expected("UUID string", value)
        try:
            return uuid.UUID(value)
        except ValueError:
            raise InvalidValueError(f"expected UUID string, got {value!r}") from None

    return LogicalForm(
        from_json=from_json,
        from_raw=from_json,
        to_json=str,
        expected="UUID string",
        json_types=frozenset({str, uuid.UUID}),
        native_types=frozenset({uuid.UUID, str}),
    )


def _decimal(precision: int, scale: int) -> LogicalForm:
    quantum = Decimal(1).scaleb(-scale)

    # Wide enough for any quantize that can pass the precision check below, and bounded so a
    # value like "1e999999" fails fast instead of building a million digits.
    context = Context(prec=precision + scale + 2, traps=[InvalidOperation])

    def check(number: Decimal, shown: object) -> Decimal:
        if not number.is_finite():
            raise InvalidValueError(f"expected a finite decimal, got {shown!r}")
        try:
            quantized = number.quantize(quantum, context=context)
        except InvalidOperation:
            raise InvalidValueError(f"{shown!r} has more than {precision} digits") from None
        if quantized != number:
            raise InvalidValueError(f"{shown!r} has more than {scale} decimal places")
        if len(quantized.as_tuple().digits) > precision:
            raise InvalidValueError(f"{shown!r} has more than {precision} digits")
        return quantized

    def from_json(value: Any) -> Decimal:
        if type(value) is int:
            return check(Decimal(value), value)
        if type(value) is Decimal:
            return check(value, value)
        if type(value) is not str:
            raise expected("decimal string", value)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InvalidValueError(f"expected decimal string, got {value!r}") from None
        return check(number, value)

    def from_raw(value: Any) -> Decimal:
        unscaled = int.from_bytes(value.encode("latin-1"), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale)

    def to_json(value: Any) -> str:
        return format(value, "f")

    return LogicalForm(
        from_json,
        from_raw,
        to_json,
        "decimal string",
        frozenset({str, int, Decimal}),
        frozenset({Decimal}),
    )


def logical_form(schema: Mapping[str, Any]) -> LogicalForm | None:
    """The JSON form of ``schema``'s logical type, or None to use the underlying type's."""
    logical = schema.get("logicalType")
    underlying = schema.get("type")
    key = f"{underlying}-{logical}"
    if key == "long-timestamp-millis":
        return _timestamp(1000, aware=True)
    if key == "long-timestamp-micros":
        return _timestamp(1, aware=True)
    if key == "long-local-timestamp-millis":
        return _timestamp(1000, aware=False)
    if key == "long-local-timestamp-micros":
        return _timestamp(1, aware=False)
    if key == "int-date":
        return _date()
    if key == "int-time-millis":
        return _time(1000)
    if key == "long-time-micros":
        return _time(1)
    if key == "string-uuid":
        return _uuid()
    if key in ("bytes-decimal", "fixed-decimal"):
        precision, scale = schema.get("precision"), schema.get("scale", 0)
        if type(precision) is int and type(scale) is int and 0 <= scale <= precision:
            return _decimal(precision, scale)
    return None
