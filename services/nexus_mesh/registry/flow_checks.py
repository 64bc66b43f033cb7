"""The manifest's request flows, and the payloads the mesh makes for them itself.

``check_flows`` checks each flow's request, replies, timeout and failure types against the
event types; ``check_timeout_payloads`` and ``check_failure_payloads`` check the schemas of the
timeout events the gateway makes and the failure replies the service SDK makes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nexus_mesh.registry.json_copy import json_copy_refusal
from nexus_mesh.registry.manifest import MANIFEST_NAME, Manifest
from nexus_mesh.registry.model import (
    CLIENTS_TOPIC,
    FAILURE_FIELDS,
    SYSTEM_TOPIC,
    TIMEOUT_MS_FIELD,
    EventType,
    Flow,
    SchemaVersion,
)
from nexus_mesh.registry.problems import Problems
from nexus_mesh.registry.schema_files import reference_schema

_FLOW_RE = re.compile(r"^[a-z][a-z0-9_]*$")


# A client's event on the clients topic goes to its whole campaign with the correlation_id
# the client chose. As a flow's reply, gateways end the pending request that id names on each
# connection it reaches; as a reply or a timeout, the requester takes it for its answer.
# DESIGN.md section 6 has a flow's answer reach the requesting connection only.
_CLIENT_ANSWER = (
    "{role} {type!r} cannot list client among its senders: a client could answer, and end, "
    "another connection's request"
)


def check_flows(
    manifest: Manifest, events: dict[str, EventType], problems: Problems
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


def check_timeout_payloads(
    flows: dict[str, Flow],
    schemas: dict[str, tuple[SchemaVersion, ...]],
    problems: Problems,
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


def _takes_a_string(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_takes_a_string(branch) for branch in avro_type)
    if isinstance(avro_type, dict):
        return avro_type.get("type") == "string"
    return bool(avro_type == "string")


def check_failure_payloads(
    flows: dict[str, Flow],
    schemas: dict[str, tuple[SchemaVersion, ...]],
    problems: Problems,
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
