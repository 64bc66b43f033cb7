"""Avro single-object encoding: ``C3 01``, the writer schema's 8-byte CRC-64-AVRO
fingerprint (little-endian), then the Avro binary body (DESIGN.md section 4)."""

from __future__ import annotations

from nexus_mesh.errors import CodecError

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8


def header(fingerprint: bytes) -> bytes:
    if len(fingerprint) != 8:
        raise ValueError("a CRC-64-AVRO fingerprint is 8 bytes")
    return MAGIC + fingerprint


def fingerprint_of(data: bytes, what: str) -> bytes:
    """The fingerprint framing ``data``; CodecError if ``data`` is not single-object encoded.

    ``what`` names the part (envelope or payload) in the message.
    """
    if len(data) < HEADER_SIZE:
        raise CodecError(
            f"truncated {what}: {len(data)} bytes, a single-object header alone is {HEADER_SIZE}"
        )
    if data[:2] != MAGIC:
        raise CodecError(
            f"{what} is not Avro single-object encoded (starts with {bytes(data[:2]).hex()}, "
            f"expected {MAGIC.hex()})"
        )
    return bytes(data[2:HEADER_SIZE])
