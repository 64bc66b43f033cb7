"""Envelope <-> Kafka record value: single-object envelope, single-object payload inside.

Everything that depends only on the registry is prepared in the constructor: the newest
envelope and payload schemas compiled into specialised functions (:mod:`compiled`), and
fastavro readers for older versions and for any schema the compiler leaves alone
(:mod:`fastavro_path`). Encode and decode are then a dictionary look-up and a call per level,
whichever path serves the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from nexus_mesh.codec import fastavro_path
from nexus_mesh.codec.avro_model import UnsupportedSchemaError
from nexus_mesh.codec.checks import SchemaMismatchError
from nexus_mesh.codec.compiled import (
    EnvelopeReader,
    EnvelopeWriter,
    PayloadReader,
    PayloadWriter,
    compile_envelope,
    compile_payload,
    encoded_string,
)
from nexus_mesh.codec.framing import HEADER_SIZE, fingerprint_of, header
from nexus_mesh.codec.wire import describe
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, PayloadInvalidError, UnknownSchemaError, UnknownTypeError
from nexus_mesh.registry.model import ENVELOPE_SUBJECT, Registry

_T = TypeVar("_T")
_new_envelope = object.__new__


class BinaryCodec:
    """Avro encode/decode of envelopes against one registry.

    ``compiled=False`` keeps every schema on fastavro (the previous implementation, kept
    for comparison and as the reference in tests).
    """

    __slots__ = (
        "_envelope_readers",
        "_payload_readers",
        "_payload_writers",
        "_write_envelope",
        "compiled",
    )

    def __init__(self, registry: Registry, *, compiled: bool = True) -> None:
        done: set[str] = set()
        envelope = registry.envelope_versions
        newest = envelope[-1]
        types = {event.name.encode(): event.name for event in registry.types()}
        fast_envelope = _compile(partial(compile_envelope, newest, types)) if compiled else None
        self._write_envelope: EnvelopeWriter = (
            fast_envelope.write if fast_envelope else fastavro_path.envelope_writer(newest)
        )
        # Keyed by the whole single-object header, so one look-up checks the magic too.
        self._envelope_readers: dict[bytes, tuple[str, EnvelopeReader]] = {
            header(v.fingerprint): (v.label, fastavro_path.envelope_reader(v, newest))
            for v in envelope
        }
        if fast_envelope:
            self._envelope_readers[header(newest.fingerprint)] = (newest.label, fast_envelope.read)
            done.add(ENVELOPE_SUBJECT)
        self._payload_writers: dict[str, tuple[PayloadWriter, bytes]] = {}
        self._payload_readers: dict[bytes, tuple[str, str, PayloadReader]] = {}
        for event in registry.types():
            versions = registry.versions(event.name)
            latest = versions[-1]
            for version in versions:
                self._payload_readers[header(version.fingerprint)] = (
                    version.subject,
                    version.label,
                    fastavro_path.payload_reader(version, latest),
                )
            fast = _compile(partial(compile_payload, latest)) if compiled else None
            if fast:
                self._payload_readers[header(latest.fingerprint)] = (
                    latest.subject,
                    latest.label,
                    fast.read,
                )
                done.add(event.name)
            write = fast.write if fast else fastavro_path.payload_writer(latest)
            self._payload_writers[event.name] = (write, encoded_string(event.name))
        self.compiled = frozenset(done)
        """Subjects (event types, ``nexus.envelope``) whose newest version runs compiled."""

    def encode(self, envelope: Envelope) -> bytes:
        """The record value: newest envelope schema around the type's newest payload schema."""
        type_name = envelope.type
        try:
            write, type_field = self._payload_writers[type_name]
        except KeyError:
            raise UnknownTypeError(f"unknown event type {type_name!r}") from None
        try:
            payload = write(envelope.payload)
        except SchemaMismatchError as exc:
            raise PayloadInvalidError(
                f"{type_name} payload does not match its schema: {exc}"
            ) from None
        except Exception as exc:  # fastavro reports a mismatch as one of several types
            raise PayloadInvalidError(
                f"{type_name} payload does not match its schema: {type(exc).__name__}: {exc}"
            ) from exc
        if not envelope.metadata.event_id:
            raise CodecError(_NO_EVENT_ID.format(type_name))
        try:
            return self._write_envelope(type_name, type_field, payload, envelope.metadata)
        except SchemaMismatchError as exc:
            raise CodecError(f"cannot encode {type_name} envelope metadata: {exc}") from None
        except Exception as exc:
            raise CodecError(
                f"cannot encode {type_name} envelope metadata: {type(exc).__name__}: {exc}"
            ) from exc

    def decode(self, data: bytes) -> Envelope:
        """The envelope in a record value; CodecError for anything that is not one."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise CodecError(f"expected bytes, got {type(data).__name__}")
            data = bytes(data)
        found = self._envelope_readers.get(data[:HEADER_SIZE])
        if found is None:
            fingerprint = fingerprint_of(data, "envelope")
            raise UnknownSchemaError(
                f"envelope written with unknown schema fingerprint {fingerprint.hex()}"
            )
        label, read_envelope = found
        # Untrusted bytes make a reader raise whatever it hits (IndexError, ValueError,
        # UnicodeDecodeError, ...); none of it is a bug of ours, all of it is "corrupt".
        try:
            type_name, buffer, start, end, metadata = read_envelope(data)
        except Exception as exc:
            raise CodecError(f"malformed envelope ({label}): {describe(exc)}") from exc
        plan = self._payload_readers.get(buffer[start : start + HEADER_SIZE])
        if plan is None or end - start < HEADER_SIZE:
            fingerprint = fingerprint_of(buffer[start:end], f"{type_name} payload")
            raise UnknownSchemaError(
                f"{type_name} payload written with unknown schema fingerprint {fingerprint.hex()}"
            )
        subject, label, read_payload = plan
        if not metadata.event_id:
            # Every reader deduplicates by event_id: an empty one would make each later
            # event of the same sender a "duplicate" of the first, skipped without a word.
            raise CodecError(_NO_EVENT_ID.format(type_name))
        if subject != type_name:
            raise CodecError(f"envelope says {type_name!r} but its payload is {label}")
        try:
            payload = read_payload(buffer, start + HEADER_SIZE, end)
        except Exception as exc:
            raise CodecError(f"malformed {type_name} payload ({label}): {describe(exc)}") from exc
        # Filling the slots of a bare instance costs a third of the keyword __init__, and
        # decode builds one envelope per Kafka record (the gateway's hot path).
        envelope = _new_envelope(Envelope)
        envelope.type = type_name
        envelope.payload = payload
        envelope.metadata = metadata
        return envelope


_NO_EVENT_ID = (
    "{} envelope has an empty metadata.event_id; every event needs a unique one (the "
    "idempotency key)"
)


def _compile(build: Callable[[], _T]) -> _T | None:
    """``build()``, or None when the schema uses Avro the generators leave to fastavro."""
    try:
        return build()
    except UnsupportedSchemaError:
        return None
