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
import json
import re
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from nexus_mesh.envelope import PROTOCOL_PREFIX, TYPE_RE, Metadata
from nexus_mesh.errors import RegistryError
from nexus_mesh.registry.manifest import (
    MANIFEST_NAME,
    Manifest,
    describe_validation,
    parse_manifest,
    read_json,
)
from nexus_mesh.registry.model import (
    CLIENTS_TOPIC,
    ENVELOPE_SUBJECT,
    FAILURE_FIELDS,
    SYSTEM_TOPIC,
    TIMEOUT_MS_FIELD,
    EventType,
    Flow,
    Registry,
    SchemaVersion,
)
from nexus_mesh.registry.schema_files import (
    SchemaFileError,
    build_version,
    full_name,
    inline_reference,
    reference_schema,
)

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_FLOW_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED_TOPICS = frozenset({"dlq"})
_ENVELOPE_FIELDS = {"type": "string", "payload": "bytes"}


def envelope_path(version: int) -> str:
    return f"nexus/envelope.v{version}.avsc"


def metadata_path(version: int) -> str:
    return f"nexus/metadata.v{version}.avsc"


def event_path(type_name: str, version: int) -> str:
    return f"events/{type_name}/v{version}.avsc"


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append(f"{where}: {reason}")


def load_registry(directory: Path) -> Registry:
    """The registry in ``directory``; raises RegistryError listing every file and reason."""
    directory = Path(directory)
    problems = _Problems()
    manifest = _load_manifest(directory, problems)
    if manifest is None:
        _fail(directory, problems)
    events = _event_types(manifest, problems)
    flows = _flows(manifest, events, problems)
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
    _check_timeout_payloads(flows, schemas, problems)
    _check_failure_payloads(flows, schemas, problems)
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


def _fail(directory: Path, problems: _Problems) -> NoReturn:
    listing = "\n  ".join(problems.items)
    raise RegistryError(
        f"schema registry {directory} is invalid:\n  {listing}", tuple(problems.items)
    )


def _load_manifest(directory: Path, problems: _Problems) -> Manifest | None:
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


def _event_types(manifest: Manifest, problems: _Problems) -> dict[str, EventType]:
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


# A client's event on the clients topic goes to its whole campaign with the correlation_id
# the client chose. As a flow's reply, gateways end the pending request that id names on each
# connection it reaches; as a reply or a timeout, the requester takes it for its answer.
# DESIGN.md section 6 has a flow's answer reach the requesting connection only.
_CLIENT_ANSWER = (
    "{role} {type!r} cannot list client among its senders: a client could answer, and end, "
    "another connection's request"
)


def _flows(
    manifest: Manifest, events: dict[str, EventType], problems: _Problems
) -> dict[str, Flow]:
    flows = {}
    seen_requests: dict[str, str] = {}
    seen_replies: dict[str, str] = {}
    for name, entry in manifest.flows.items():
        where = f"{MANIFEST_NAME}: flows[{name!r}]"
        if not _FLOW_RE.fullmatch(name):
            problems.add(where, "a flow name is one lowercase word (what the client sends)")
        request = events.get(entry.request)
        if request is None:
            problems.add(where, f"unknown type {entry.request!r} as request")
        elif not request.client_sendable or request.topic in (None, CLIENTS_TOPIC, SYSTEM_TOPIC):
            problems.add(where, f"request {entry.request!r} must be sent by clients to a domain")
        if entry.request in seen_requests:
            problems.add(
                where,
                f"request {entry.request!r} already starts flow {seen_requests[entry.request]!r}",
            )
        seen_requests[entry.request] = name
        for reply in entry.replies:
            event = events.get(reply)
            if event is None:
                problems.add(where, f"unknown type {reply!r} as reply")
            elif event.topic != CLIENTS_TOPIC:
                problems.add(where, f"reply {reply!r} must have topic {CLIENTS_TOPIC!r}")
            elif "service" not in event.senders and reply != entry.failure:
                # Otherwise the service's reply is refused at its publisher, per record, and
                # dead-lettered: found here, before a service starts.
                problems.add(
                    where,
                    f"reply {reply!r} must list service among its senders: a service answers "
                    "the flow",
                )
            if event is not None and event.client_sendable:
                role = "failure" if reply == entry.failure else "reply"
                problems.add(where, _CLIENT_ANSWER.format(role=role, type=reply))
            if reply in seen_replies:
                problems.add(where, f"reply {reply!r} already answers flow {seen_replies[reply]!r}")
            seen_replies[reply] = name
        timeout = events.get(entry.timeout)
        if timeout is None:
            problems.add(where, f"unknown type {entry.timeout!r} as timeout")
        elif "gateway" not in timeout.senders or timeout.topic != CLIENTS_TOPIC:
            problems.add(
                where, f"timeout {entry.timeout!r} must be sent by the gateway to {CLIENTS_TOPIC!r}"
            )
        if timeout is not None and timeout.client_sendable:
            problems.add(where, _CLIENT_ANSWER.format(role="timeout", type=entry.timeout))
        if entry.failure is not None and entry.failure not in entry.replies:
            problems.add(where, f"failure {entry.failure!r} must be one of the flow's replies")
        elif entry.failure is not None:
            failure = events.get(entry.failure)
            if failure is not None and "service" not in failure.senders:
                problems.add(
                    where,
                    f"failure {entry.failure!r} must list service among its senders: the "
                    "service SDK sends it",
                )
        flows[name] = Flow(
            name=name,
            request=entry.request,
            replies=tuple(entry.replies),
            timeout_ms=entry.timeout_ms,
            timeout_type=entry.timeout,
            failure_type=entry.failure,
        )
    return flows


# Avro types a JSON number of milliseconds fills (directly, or as a branch of a union).
_NUMBERS = frozenset({"int", "long", "float", "double"})


def _takes_a_number(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_takes_a_number(branch) for branch in avro_type)
    if isinstance(avro_type, dict):
        return avro_type.get("type") in _NUMBERS
    return avro_type in _NUMBERS


def _check_timeout_payloads(
    flows: dict[str, Flow],
    schemas: dict[str, tuple[SchemaVersion, ...]],
    problems: _Problems,
) -> None:
    """The gateway makes a flow's timeout event itself (:meth:`Flow.timeout_values`): a
    field it cannot fill needs a default, and one it copies from the request must take every
    value the request's field can hold, or the timeout would fail when it fires, with no
    client told."""
    for name, flow in flows.items():
        request, timeout = schemas.get(flow.request), schemas.get(flow.timeout_type)
        if not request or not timeout:
            continue  # already reported
        latest = timeout[-1]
        # The gateway validates requests against the newest request schema and makes the
        # timeout event with the newest timeout schema, so those two are the pair to compare.
        shared = {field["name"]: field for field in request[-1].schema.get("fields", [])}
        request_types = _parsed_field_types(request[-1])
        timeout_types = _parsed_field_types(latest)
        for field in latest.schema.get("fields", []):
            field_name = field["name"]
            if field_name == TIMEOUT_MS_FIELD:
                # The gateway puts the timeout there, whatever the request has of that name.
                if not _takes_a_number(field["type"]):
                    problems.add(
                        latest.file,
                        f"field 'timeout_ms' must take a number: flow {name!r} puts its "
                        "timeout in milliseconds there",
                    )
            elif field_name in shared:
                # The request's value is copied even when the timeout field has a default
                # (a value the client left out is the request's default, null say), as JSON:
                # the timeout's type must take the JSON of every value the request's can hold.
                reason = json_copy_refusal(
                    reader=timeout_types[field_name], writer=request_types[field_name]
                )
                if reason is not None:
                    problems.add(
                        latest.file,
                        f"field {field_name!r} is {json.dumps(field['type'])} in "
                        f"{flow.timeout_type!r} but {json.dumps(shared[field_name]['type'])} in "
                        f"{flow.request!r}: flow {name!r} copies the request's value into its "
                        "timeout event, and not every value can be taken by the timeout's type "
                        f"({reason})",
                    )
            elif "default" not in field:
                problems.add(
                    latest.file,
                    f"field {field_name!r} needs a default: flow {name!r} fills its timeout "
                    f"event only from {flow.request!r} fields and timeout_ms",
                )


def _parsed_field_types(version: SchemaVersion) -> dict[str, Any]:
    """Each field's type as the reference implementation parsed it, named types resolved in
    the record they belong to (a field's type alone may name a type defined elsewhere)."""
    return {field.name: field.type for field in reference_schema(version.schema).fields}


# A JSON value of the first type is always the same value of the second (json_in takes an
# integer for a floating-point number); not long into double or float, nor int into float,
# which round large values. No logical type on either side: their JSON forms differ.
_JSON_PROMOTIONS = frozenset({("int", "long"), ("int", "double"), ("float", "double")})
# What a type's JSON form does not depend on.
_NOT_IN_JSON = ("doc", "aliases", "default", "order")
# Types whose JSON forms are of one kind: a union's reader takes a value with the first branch
# of its kind that converts it (json_in), which may be another type than the writer's.
_JSON_KIND = {
    "int": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "string": "string",
    "bytes": "string",
    "fixed": "string",
    "enum": "string",
    "record": "object",
    "map": "object",
    "array": "array",
    "boolean": "boolean",
    "null": "null",
}


def json_copy_refusal(*, reader: Any, writer: Any) -> str | None:
    """Why the JSON form of some ``writer`` value (the codec's ``payload_to_json``) is not the
    same value of ``reader`` (``payload_from_json``), or None if every one is. Both are types
    parsed by the ``avro`` package. Stricter than Avro's resolution, which the gateway does
    not do: it copies JSON, so bytes are not strings, enums keep their symbols, records take
    no extra field, logical types keep their forms and numbers are not rounded."""
    if writer.type == "union":
        for branch in writer.schemas:
            reason = json_copy_refusal(reader=reader, writer=branch)
            if reason is not None:
                return reason
        return None
    if reader.type == "union":
        for branch in reader.schemas:
            if json_copy_refusal(reader=branch, writer=writer) is None:
                return None
            if _same_kind(_kind(branch), _kind(writer)):
                return (
                    f"{_json_of(branch)}, an earlier branch of {_json_of(reader)}, would take "
                    f"some {_json_of(writer)} values as its own"
                )
        return f"no branch of {_json_of(reader)} takes {_json_of(writer)}"
    if _json_of(reader) == _json_of(writer):
        return None
    if (
        _logical(reader) is None
        and _logical(writer) is None
        and (writer.type, reader.type) in _JSON_PROMOTIONS
    ):
        return None
    return f"{_json_of(reader)} does not take every {_json_of(writer)}"


def _logical(avro_type: Any) -> str | None:
    # From the schema itself too: the avro package drops logical types it lacks
    # (local-timestamp-*), which the codec (fastavro) still writes in their own JSON form.
    found = avro_type.to_json()
    named = found.get("logicalType") if isinstance(found, dict) else None
    return getattr(avro_type, "logical_type", None) or named


def _kind(avro_type: Any) -> str:
    return "logical" if _logical(avro_type) else _JSON_KIND.get(avro_type.type, avro_type.type)


def _same_kind(first: str, second: str) -> bool:
    # A logical type's JSON form is a string or a number, by type: taken as either.
    loose = {"logical", "number", "string"}
    return first == second or ("logical" in (first, second) and {first, second} <= loose)


def _json_of(avro_type: Any) -> str:
    return json.dumps(_without_docs(avro_type.to_json()), sort_keys=True)


def _without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in _NOT_IN_JSON}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


def _takes_a_string(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_takes_a_string(branch) for branch in avro_type)
    if isinstance(avro_type, dict):
        return avro_type.get("type") == "string"
    return bool(avro_type == "string")


def _check_failure_payloads(
    flows: dict[str, Flow],
    schemas: dict[str, tuple[SchemaVersion, ...]],
    problems: _Problems,
) -> None:
    """The service SDK makes a flow's failure reply itself, from a code and a message: a
    field it cannot fill needs a default, or the failure would go unanswered."""
    for name, flow in flows.items():
        if flow.failure_type not in flow.replies:
            continue  # none, or already reported
        failure = schemas.get(flow.failure_type)
        if not failure:
            continue  # already reported
        latest = failure[-1]
        fields = {field["name"]: field for field in latest.schema.get("fields", [])}
        for wanted in FAILURE_FIELDS:
            if wanted not in fields or not _takes_a_string(fields[wanted]["type"]):
                problems.add(
                    latest.file,
                    f"field {wanted!r} must take a string: flow {name!r} sends this type "
                    "when its handler fails, with a code and a message",
                )
        for field_name, field in fields.items():
            if field_name not in FAILURE_FIELDS and "default" not in field:
                problems.add(
                    latest.file,
                    f"field {field_name!r} needs a default: flow {name!r} fills its failure "
                    "reply only with code and message",
                )


def _expected_files(manifest: Manifest) -> set[str]:
    expected = {
        path(v) for v in manifest.envelope.versions for path in (envelope_path, metadata_path)
    }
    expected.update(
        event_path(name, v) for name, entry in manifest.events.items() for v in entry.versions
    )
    return expected


def _check_listed(
    directory: Path, expected: set[str], types: set[str], problems: _Problems
) -> None:
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


def _read_source(directory: Path, relative: str, files: dict[str, Any], problems: _Problems) -> Any:
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
    directory: Path, manifest: Manifest, files: dict[str, Any], problems: _Problems
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


def _check_envelope_fields(newest: SchemaVersion, problems: _Problems) -> None:
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


def _check_fingerprints(versions: list[SchemaVersion], problems: _Problems) -> None:
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
