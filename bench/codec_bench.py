"""Envelope encode+decode round trips per second on one core.

Implementations of the same work, measured in the same run and interleaved round by round
so that they see the same machine: the mesh's codec (schema-compiled encoders/decoders), the
previous fastavro-based path of the same codec (``BinaryCodec(registry, compiled=False)``),
the four bare fastavro calls a round trip needs, orjson of the same envelope as JSON, and the
reference ``avro`` package with the same single-object framing. The bytes of the compiled
codec, of the fastavro path and of the reference are checked to be identical. Prints a
Markdown section for ``docs/benchmarks.md``.

    .venv/bin/python -m bench.codec_bench [--rounds 7] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import avro.io
import orjson
from fastavro import schemaless_reader, schemaless_writer

from bench.harness.machine import cpu_model, versions
from nexus_mesh.codec import Codec
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.codec.framing import HEADER_SIZE, header
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.registry.schema_files import reference_schema
from nexus_mesh.settings import default_schemas_dir

METADATA = Metadata(
    event_id="0190f7a2-1b2c-7d3e-8f40-123456789abc",
    campaign_id="campaign-42",
    source="gateway/nexus-gateway-7f9c5d-x2k4q",
    time=1_718_000_000_123,
    correlation_id="0190f7a2-1b2c-7d3e-8f40-123456789abd",
    user_id="user-1234",
    connection_id="c-0190f7a2-5e6f",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    attributes={"client": "web/1.4.2"},
)
CASES: dict[str, dict[str, Any]] = {
    "chat.message": {"text": "See you at the kick-off at 10:00!", "reply_to": None},
    "search.completed": {
        "query": "kafka avro",
        "hits": [
            {
                "id": f"doc-{i}",
                "title": f"Result number {i}",
                "score": 1.0 / (i + 1),
                "snippet": "…single-object encoding frames every record…",
            }
            for i in range(5)
        ],
    },
}


@dataclass
class Result:
    name: str
    rates: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


class ReferenceAvro:
    """The same framing and nesting as the codec, with the reference implementation."""

    def __init__(self, registry: Registry, type_name: str) -> None:
        envelope = registry.envelope_versions[-1]
        payload = registry.latest(type_name)
        self.envelope_header = header(envelope.fingerprint)
        self.payload_header = header(payload.fingerprint)
        envelope_schema = reference_schema(envelope.schema)
        payload_schema = reference_schema(payload.schema)
        self.envelope_writer = avro.io.DatumWriter(envelope_schema)
        self.payload_writer = avro.io.DatumWriter(payload_schema)
        self.envelope_reader = avro.io.DatumReader(envelope_schema, envelope_schema)
        self.payload_reader = avro.io.DatumReader(payload_schema, payload_schema)

    def encode(self, record: dict[str, Any]) -> bytes:
        inner = io.BytesIO()
        inner.write(self.payload_header)
        self.payload_writer.write(record["payload"], avro.io.BinaryEncoder(inner))
        outer = io.BytesIO()
        outer.write(self.envelope_header)
        self.envelope_writer.write(
            {**record, "payload": inner.getvalue()}, avro.io.BinaryEncoder(outer)
        )
        return outer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        outer = io.BytesIO(data)
        outer.seek(HEADER_SIZE)
        record: Any = self.envelope_reader.read(avro.io.BinaryDecoder(outer))
        inner = io.BytesIO(record["payload"])
        inner.seek(HEADER_SIZE)
        record["payload"] = self.payload_reader.read(avro.io.BinaryDecoder(inner))
        return dict(record)


def bare_fastavro(registry: Registry, type_name: str, record: dict[str, Any]) -> Callable[[], Any]:
    """Only the four fastavro calls a round trip needs: what any codec built on it costs."""
    envelope = registry.envelope_versions[-1].parsed
    payload = registry.latest(type_name).parsed

    def round_trip() -> Any:
        inner = io.BytesIO()
        schemaless_writer(inner, payload, record["payload"])
        outer = io.BytesIO()
        schemaless_writer(outer, envelope, {**record, "payload": inner.getvalue()})
        decoded: Any = schemaless_reader(io.BytesIO(outer.getvalue()), envelope, None)
        return schemaless_reader(io.BytesIO(decoded["payload"]), payload, None)

    return round_trip


def as_dict(envelope: Envelope) -> dict[str, Any]:
    meta = envelope.metadata
    fields = ("event_id", "campaign_id", "source", "time", "correlation_id", "user_id")
    rest = ("connection_id", "traceparent", "tracestate", "attributes")
    return {
        "type": envelope.type,
        "payload": envelope.payload,
        "metadata": {name: getattr(meta, name) for name in (*fields, *rest)},
    }


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``work``, timed over batches until ``seconds`` have passed."""
    batch, calls, began = 200, 0, time.perf_counter()
    while True:
        for _ in range(batch):
            work()
        calls += batch
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            return calls / elapsed


COMPILED = "nexus codec (compiled): encode+decode"
PREVIOUS = "previous codec (fastavro path): encode+decode"


def run_case(registry: Registry, codec: Codec, type_name: str, args: argparse.Namespace) -> str:
    envelope = Envelope(type=type_name, payload=CASES[type_name], metadata=METADATA)
    assert {type_name, "nexus.envelope"} <= codec.compiled, "the case must run compiled"
    previous = BinaryCodec(registry, compiled=False)
    value = codec.encode(envelope)
    assert value == previous.encode(envelope), "both paths must write the same bytes"
    assert codec.decode(value) == envelope == previous.decode(value)
    reference = ReferenceAvro(registry, type_name)
    record = as_dict(envelope)
    assert reference.encode(record) == value, "the reference must write the codec's bytes"
    json_value = orjson.dumps(record)
    floor = bare_fastavro(registry, type_name, record)

    workloads: dict[str, Callable[[], object]] = {
        COMPILED: lambda: codec.decode(codec.encode(envelope)),
        "nexus codec (compiled): encode only": lambda: codec.encode(envelope),
        "nexus codec (compiled): decode only": lambda: codec.decode(value),
        PREVIOUS: lambda: previous.decode(previous.encode(envelope)),
        "previous codec (fastavro path): encode only": lambda: previous.encode(envelope),
        "previous codec (fastavro path): decode only": lambda: previous.decode(value),
        "fastavro calls alone (floor of any fastavro-based codec)": floor,
        "orjson, same envelope as JSON: dumps+loads": lambda: orjson.loads(orjson.dumps(record)),
        "reference avro package: encode+decode": lambda: reference.decode(reference.encode(record)),
    }
    results = {name: Result(name, []) for name in workloads}
    for _ in range(args.rounds):
        for name, work in workloads.items():
            # The reference is ~50x slower; a shorter window keeps the run short.
            seconds = args.seconds / 5 if name.startswith("reference") else args.seconds
            results[name].rates.append(rate(work, seconds))

    base = results[COMPILED].median
    old = results[PREVIOUS].median
    lines = [
        f"`{type_name}`: Avro record value {len(value)} bytes, JSON {len(json_value)} bytes.",
        "",
        "| implementation | median ops/s | min | max | vs compiled round trip "
        "| vs fastavro-path round trip |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results.values():
        lines.append(
            f"| {result.name} | {result.median:,.0f} | {min(result.rates):,.0f} | "
            f"{max(result.rates):,.0f} | {result.median / base:.2f}x | {result.median / old:.2f}x |"
        )
    return "\n".join(lines)


def machine() -> str:
    return (
        f"nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}, "
        f"{versions('fastavro', 'avro', 'orjson')}"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="runs per workload (median)")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one run")
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: last)")
    args = parser.parse_args(argv)

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    registry = load_registry(default_schemas_dir())
    codec = Codec(registry)
    sections = [run_case(registry, codec, type_name, args) for type_name in CASES]
    command = "python -m bench.codec_bench " + " ".join(sys.argv[1:] if argv is None else argv)
    print(
        f"Command: `{command.strip()}`, pinned to CPU {cpu}, {args.rounds} rounds of "
        f"{args.seconds:g} s per workload (reference avro: {args.seconds / 5:g} s).  "
    )
    print(f"Machine: {machine()}.  ")
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load_average()}.")
    for section in sections:
        print()
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
