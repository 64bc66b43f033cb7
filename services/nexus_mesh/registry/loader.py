"""``load_registry``: read and validate a whole ``schemas/`` directory, or say what is wrong.

Every problem found is collected (file + reason) before failing, so one run of
``nexus schemas check`` lists them all instead of one per attempt.

Layout, by convention so that adding an event type is a file plus a manifest entry:

- ``manifest.json``
- ``nexus/envelope.v<N>.avsc`` and ``nexus/metadata.v<N>.avsc`` (envelope version N)
- ``events/<type>/v<N>.avsc`` for each version N of each event type
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from nexus_mesh.envelope import PROTOCOL_PREFIX, TYPE_RE, Metadata
from nexus_mesh.errors import RegistryError
from nexus_mesh.registry.flow_checks import (
    check_failure_payloads,
    check_flows,
    check_timeout_payloads,
)
from nexus_mesh.registry.manifest import (
    MANIFEST_NAME,
    Manifest,
    describe_validation,
    parse_manifest,
    read_json,
)
from nexus_mesh.registry.model import (
    ENVELOPE_SUBJECT,
    SYSTEM_TOPIC,
    EventType,
    Registry,
    SchemaVersion,
)
from nexus_mesh.registry.problems import Problems
from nexus_mesh.registry.schema_files import (
    SchemaFileError,
    build_version,
    full_name,
    inline_reference,
)

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_RESERVED_TOPICS = frozenset({"dlq"})
_ENVELOPE_FIELDS = {"type": "string", "payload": "bytes"}


def envelope_path(version: int) -> str:
    return f"nexus/envelope.v{version}.avsc"


def metadata_path(version: int) -> str:
    return f"nexus/metadata.v{version}.avsc"


def event_path(type_name: str, version: int) -> str:
    return f"events/{type_name}/v{version}.avsc"


def load_registry(directory: Path) -> Registry:
    """The registry in ``directory``; raises RegistryError listing every file and reason."""
    directory = Path(directory)
    problems = Problems()
    manifest = _load_manifest(directory, problems)
    if manifest is None:
        _fail(directory, problems)
    events = _event_types(manifest, problems)
    flows = check_flows(manifest, events, problems)
    files: dict[str, Any] = {}
    expected = _expected_files(manifest)
    _check_listed(directory, expected, set(manifest.events), problems)
    schemas: dict[str, tuple[SchemaVersion, ...]] = {}
    for name, entry in manifest.events.items():
        versions = []
        if not TYPE_RE.fullmatch(name):
            continue  # already reported; not a safe path segment either
        for version in entry.versions:
            relative = event_path(name, version)
            source = _read_source(directory, relative, files, problems)
            if source is None:
                continue
            try:
                versions.append(build_version(name, version, directory, relative, source))
            except SchemaFileError as exc:
                problems.add(relative, str(exc))
        schemas[name] = tuple(versions)
    check_timeout_payloads(flows, schemas, problems)
    check_failure_payloads(flows, schemas, problems)
    envelope = _envelope_versions(directory, manifest, files, problems)
    _check_fingerprints([*envelope, *(v for vs in schemas.values() for v in vs)], problems)
    if problems.items:
        _fail(directory, problems)
    return Registry(
        directory=directory,
        events=events,
        flows=flows,
        schemas=schemas,
        envelope_versions=envelope,
        files=files,
    )


def _fail(directory: Path, problems: Problems) -> NoReturn:
    listing = "\n  ".join(problems.items)
    raise RegistryError(
        f"schema registry {directory} is invalid:\n  {listing}", tuple(problems.items)
    )


def _load_manifest(directory: Path, problems: Problems) -> Manifest | None:
    path = directory / MANIFEST_NAME
    try:
        data = read_json(path)
    except FileNotFoundError:
        problems.add(str(path), "missing (a registry directory needs its manifest)")
        return None
    except (OSError, ValueError) as exc:
        problems.add(MANIFEST_NAME, str(exc))
        return None
    try:
        return parse_manifest(data)
    except ValidationError as exc:
        for line in describe_validation(exc):
            problems.add(MANIFEST_NAME, line)
        return None


def _event_types(manifest: Manifest, problems: Problems) -> dict[str, EventType]:
    events = {}
    for name, entry in manifest.events.items():
        where = f"{MANIFEST_NAME}: events[{name!r}]"
        if not TYPE_RE.fullmatch(name):
            problems.add(where, "not a valid type name (<domain>.<name>, lowercase, dotted)")
        protocol = name.startswith(PROTOCOL_PREFIX)
        if protocol and (entry.topic is not None or entry.senders != ["gateway"]):
            problems.add(
                where, 'the nexus. prefix is for protocol events: topic null, senders ["gateway"]'
            )
        if not protocol and entry.topic is None:
            problems.add(where, "topic null is only for protocol events (nexus.*)")
        if entry.topic is not None and (
            not _DOMAIN_RE.fullmatch(entry.topic) or entry.topic in _RESERVED_TOPICS
        ):
            problems.add(where, f"topic {entry.topic!r} is not a usable domain name")
        if entry.topic == SYSTEM_TOPIC and "client" in entry.senders:
            # Gateways hand the system topic to every connection of every campaign.
            problems.add(where, "a system event cannot be sent by clients: it reaches everyone")
        if len(set(entry.senders)) != len(entry.senders):
            problems.add(where, "duplicate sender")
        if any(b <= a for a, b in zip(entry.versions, entry.versions[1:], strict=False)):
            problems.add(where, "versions must be listed in increasing order without repeats")
        events[name] = EventType(
            name=name,
            topic=entry.topic,
            client_sendable="client" in entry.senders,
            versions=tuple(entry.versions),
            senders=frozenset(entry.senders),
            doc=entry.doc,
        )
    return events


def _expected_files(manifest: Manifest) -> set[str]:
    expected = {
        path(v) for v in manifest.envelope.versions for path in (envelope_path, metadata_path)
    }
    expected.update(
        event_path(name, v) for name, entry in manifest.events.items() for v in entry.versions
    )
    return expected


def _check_listed(directory: Path, expected: set[str], types: set[str], problems: Problems) -> None:
    """Every ``.avsc`` must be listed: a forgotten file is a forgotten manifest entry."""
    for path in sorted(directory.rglob("*.avsc")):
        relative = path.relative_to(directory).as_posix()
        if relative in expected:
            continue
        parts = relative.split("/")
        if len(parts) != 3 or parts[0] != "events":
            reason = f"not part of the registry layout (not listed in {MANIFEST_NAME})"
        elif parts[1] not in types:
            reason = f"unknown type {parts[1]!r}: no entry in {MANIFEST_NAME}"
        else:
            reason = f"version not listed in {MANIFEST_NAME}"
        problems.add(relative, reason)


def _read_source(directory: Path, relative: str, files: dict[str, Any], problems: Problems) -> Any:
    try:
        source = read_json(directory / relative)
    except FileNotFoundError:
        problems.add(relative, f"missing schema (listed in {MANIFEST_NAME})")
        return None
    except (OSError, ValueError) as exc:
        problems.add(relative, f"bad Avro: {exc}")
        return None
    files[relative] = source
    return source


def _envelope_versions(
    directory: Path, manifest: Manifest, files: dict[str, Any], problems: Problems
) -> tuple[SchemaVersion, ...]:
    versions = []
    for version in manifest.envelope.versions:
        relative = envelope_path(version)
        envelope = _read_source(directory, relative, files, problems)
        metadata = _read_source(directory, metadata_path(version), files, problems)
        if envelope is None or metadata is None:
            continue
        try:
            if not isinstance(metadata, dict):
                raise SchemaFileError(f"{metadata_path(version)} is not a record schema")
            schema = inline_reference(envelope, full_name(metadata), metadata)
            versions.append(build_version(ENVELOPE_SUBJECT, version, directory, relative, schema))
        except SchemaFileError as exc:
            problems.add(relative, str(exc))
    if versions and versions[-1].version == manifest.envelope.versions[-1]:
        _check_envelope_fields(versions[-1], problems)
    return tuple(versions)


def _check_envelope_fields(newest: SchemaVersion, problems: Problems) -> None:
    """The codec fills and reads :class:`Envelope` and :class:`Metadata` from the newest
    envelope schema, so it must have every field they have."""
    where = f"{envelope_path(newest.version)} (with {metadata_path(newest.version)})"
    fields = {f["name"]: f["type"] for f in newest.schema["fields"]}
    for name, kind in _ENVELOPE_FIELDS.items():
        if fields.get(name) != kind:
            problems.add(where, f"field {name!r} must be of type {kind!r}")
    metadata = fields.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("type") != "record":
        problems.add(where, "field 'metadata' must be the metadata record")
        return
    names = {f["name"] for f in metadata["fields"]}
    missing = [f.name for f in dataclasses.fields(Metadata) if f.name not in names]
    if missing:
        problems.add(where, f"metadata lacks fields {', '.join(missing)}")


def _check_fingerprints(versions: list[SchemaVersion], problems: Problems) -> None:
    """Decoding finds the writer schema by fingerprint, so two files must never share one."""
    seen: dict[bytes, SchemaVersion] = {}
    for version in versions:
        other = seen.setdefault(version.fingerprint, version)
        if other is not version:
            problems.add(
                version.file,
                f"duplicate fingerprint {version.fingerprint.hex()}: same canonical form as "
                f"{other.file} ({other.label})",
            )
