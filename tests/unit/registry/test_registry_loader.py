"""load_registry: what the real registry says, and how a broken directory is reported."""

from __future__ import annotations

import json
from pathlib import Path

import avro.schema
import pytest
from registry_dirs import REAL_SCHEMAS, RegistryDir, record

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import ConfigurationError, RegistryError, UnknownTypeError
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        load_registry(directory)
    return list(caught.value.problems)


def test_the_shipped_registry_is_the_default_and_describes_the_mesh() -> None:
    assert default_schemas_dir() == REAL_SCHEMAS
    registry = load_registry(default_schemas_dir())

    assert registry.domains == frozenset({"search"})
    assert {t.name for t in registry.types()} == {
        "search.requested",
        "search.completed",
        "search.failed",
        "search.timeout",
        "chat.message",
        "campaign.updated",
        "system.notice",
        "nexus.welcome",
        "nexus.ack",
        "nexus.error",
    }
    flow = registry.flows["search"]
    assert (flow.request, flow.replies, flow.timeout_ms, flow.timeout_type) == (
        "search.requested",
        ("search.completed", "search.failed"),
        10_000,
        "search.timeout",
    )
    assert registry.event("system.notice").topic == "system"
    assert registry.event("nexus.ack").topic is None
    assert registry.event("chat.message").client_sendable
    assert not registry.event("search.completed").client_sendable


def test_clients_may_send_flow_names_and_client_sendable_types_only() -> None:
    registry = load_registry(REAL_SCHEMAS)
    flow = registry.flows["search"]

    search = registry.client_target("search")
    assert search is not None
    assert (search.type, search.flow) == ("search.requested", flow)
    direct = registry.client_target("search.requested")
    assert direct is not None
    assert direct.flow == flow
    chat = registry.client_target("chat.message")
    assert chat is not None
    assert (chat.type, chat.flow) == ("chat.message", None)
    for forbidden in ("search.completed", "system.notice", "nexus.ack", "nope.nope", "nope"):
        assert registry.client_target(forbidden) is None

    assert registry.flow_for_reply("search.completed") == flow
    assert registry.flow_for_reply("search.failed") == flow
    assert registry.flow_for_reply("chat.message") is None


def test_unknown_types_are_none_or_a_clear_error() -> None:
    registry = load_registry(REAL_SCHEMAS)
    assert registry.get("nope.nope") is None
    with pytest.raises(UnknownTypeError, match=r"^unknown event type 'nope\.nope'$"):
        registry.event("nope.nope")
    # What clients send is a flow's name; a service author or `nexus publish` is told the
    # event type it stands for.
    with pytest.raises(UnknownTypeError, match=r"its event is 'search\.requested'"):
        registry.event("search")


def test_fingerprints_agree_with_the_reference_avro_implementation() -> None:
    registry = load_registry(REAL_SCHEMAS)
    versions = [*registry.envelope_versions]
    versions += [v for t in registry.types() for v in registry.versions(t.name)]
    compared = 0
    for version in versions:
        if "logicalType" in json.dumps(version.schema):
            # The reference package keeps {"type": "long"} for logical types in canonical
            # form, against the spec (and Java); fastavro follows the spec.
            continue
        reference = avro.schema.parse(json.dumps(version.schema))
        assert version.fingerprint == reference.fingerprint("CRC-64-AVRO"), version.file
        compared += 1
    assert compared >= 10


def test_an_event_type_is_a_schema_file_plus_a_manifest_entry(registry_dir: RegistryDir) -> None:
    registry_dir.add_event(
        "poll.voted",
        {1: record("PollVoted", {"name": "option", "type": "int"})},
        topic="polls",
        senders=("client",),
    )
    registry = load_registry(registry_dir.root)

    assert registry.domains == frozenset({"search", "polls"})
    target = registry.client_target("poll.voted")
    assert target is not None
    assert target.flow is None
    codec = Codec(registry)
    envelope = Envelope(
        type="poll.voted",
        payload=codec.payload_from_json("poll.voted", {"option": 2}),
        metadata=Metadata(event_id="e1", campaign_id="c1", source="test", time=1),
    )
    assert codec.decode(codec.encode(envelope)) == envelope


def test_registry_error_is_a_configuration_error_naming_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=str(tmp_path)):
        load_registry(tmp_path)
    assert any("manifest.json" in p and "missing" in p for p in problems_of(tmp_path))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "invalid JSON at line 1"),
        (json.dumps(record("Chat", {"name": "text", "type": "strin"})), "bad Avro"),
        (json.dumps({"type": "string"}), "top-level schema must be a record"),
        (
            json.dumps(record("Chat", {"name": "text", "type": "int", "default": "x"})),
            "bad Avro",
        ),
    ],
)
def test_a_bad_schema_file_is_named_with_the_reason(
    registry_dir: RegistryDir, content: str, reason: str
) -> None:
    registry_dir.write("events/chat.message/v1.avsc", content)
    problems = problems_of(registry_dir.root)
    assert len(problems) == 1
    assert problems[0].startswith("events/chat.message/v1.avsc: ")
    assert reason in problems[0]


def test_a_version_listed_without_its_file_is_a_missing_schema(registry_dir: RegistryDir) -> None:
    registry_dir.edit_manifest(lambda m: m["events"]["chat.message"].update(versions=[1, 2]))
    assert problems_of(registry_dir.root) == [
        "events/chat.message/v2.avsc: missing schema (listed in manifest.json)"
    ]


def test_schema_files_without_a_manifest_entry_are_rejected(registry_dir: RegistryDir) -> None:
    registry_dir.write("events/poll.voted/v1.avsc", record("Poll", {"name": "o", "type": "int"}))
    registry_dir.write("events/chat.message/v7.avsc", record("Chat", {"name": "o", "type": "int"}))
    registry_dir.write("stray.avsc", record("Stray", {"name": "o", "type": "int"}))
    problems = problems_of(registry_dir.root)
    assert "events/poll.voted/v1.avsc: unknown type 'poll.voted': no entry in manifest.json" in (
        problems
    )
    assert "events/chat.message/v7.avsc: version not listed in manifest.json" in problems
    assert any(p.startswith("stray.avsc: not part of the registry layout") for p in problems)


def test_flows_naming_unknown_types_are_rejected(registry_dir: RegistryDir) -> None:
    def change(manifest: dict[str, object]) -> None:
        flows = manifest["flows"]
        assert isinstance(flows, dict)
        flows["search"]["replies"] = ["search.completed", "search.done"]
        flows["search"]["timeout"] = "search.too_slow"

    registry_dir.edit_manifest(change)
    problems = problems_of(registry_dir.root)
    assert "manifest.json: flows['search']: unknown type 'search.done' as reply" in problems
    assert "manifest.json: flows['search']: unknown type 'search.too_slow' as timeout" in problems


def test_two_files_with_the_same_canonical_form_are_a_duplicate_fingerprint(
    registry_dir: RegistryDir,
) -> None:
    # Only docs differ: the same parsing canonical form, hence the same fingerprint.
    schema = registry_dir.read("events/chat.message/v1.avsc")
    schema["doc"] = "edited"
    registry_dir.write("events/chat.message/v2.avsc", schema)
    registry_dir.edit_manifest(lambda m: m["events"]["chat.message"].update(versions=[1, 2]))
    problems = problems_of(registry_dir.root)
    assert len(problems) == 1
    assert problems[0].startswith("events/chat.message/v2.avsc: duplicate fingerprint ")
    assert "events/chat.message/v1.avsc" in problems[0]


def test_duplicate_manifest_entries_are_rejected_not_merged(registry_dir: RegistryDir) -> None:
    text = (registry_dir.root / "manifest.json").read_text()
    entry = '"chat.message": {"topic": "clients", "senders": ["client"], "versions": [1]},'
    registry_dir.write("manifest.json", text.replace('"events": {', '"events": {' + entry, 1))
    assert problems_of(registry_dir.root) == ["manifest.json: duplicate key 'chat.message'"]


def test_manifest_typos_and_wrong_types_are_named(registry_dir: RegistryDir) -> None:
    def change(manifest: dict[str, dict[str, dict[str, object]]]) -> None:
        manifest["flows"]["search"]["timout_ms"] = manifest["flows"]["search"].pop("timeout_ms")
        manifest["events"]["chat.message"]["versions"] = "1"

    registry_dir.edit_manifest(change)  # type: ignore[arg-type]
    problems = problems_of(registry_dir.root)
    assert "manifest.json: flows.search.timeout_ms: required key missing" in problems
    assert "manifest.json: flows.search.timout_ms: unknown key" in problems
    assert any(p.startswith('manifest.json: events["chat.message"].versions: ') for p in problems)


@pytest.mark.parametrize(
    ("name", "entry", "reason"),
    [
        ("Chat.Message", {"topic": "clients"}, "not a valid type name"),
        ("nexus.hello", {"topic": "clients"}, "nexus. prefix is for protocol events"),
        ("chat.hello", {"topic": None}, "topic null is only for protocol events"),
        ("chat.hello", {"topic": "dlq"}, "not a usable domain name"),
        ("chat.hello", {"versions": [2, 1]}, "increasing order"),
    ],
)
def test_manifest_entries_must_make_sense(
    registry_dir: RegistryDir, name: str, entry: dict[str, object], reason: str
) -> None:
    schemas = {v: record(f"S{v}", {"name": f"f{v}", "type": "int"}) for v in (1, 2)}
    for version, schema in schemas.items():
        registry_dir.write(f"events/{name}/v{version}.avsc", schema)
    base = {"topic": "clients", "senders": ["service"], "versions": [1, 2]}
    registry_dir.edit_manifest(lambda m: m["events"].__setitem__(name, {**base, **entry}))
    problems = problems_of(registry_dir.root)
    assert any(reason in p and name in p for p in problems), problems


@pytest.mark.parametrize(
    ("field_type", "reason"),
    [
        (["null", "test.Node"], "recursive type test.Node"),
        ({"type": "array", "items": "null"}, "array items that encode in zero bytes"),
        (
            {"type": "array", "items": {"type": "record", "name": "Empty", "fields": []}},
            "array items that encode in zero bytes",
        ),
    ],
)
def test_shapes_that_let_hostile_bytes_hang_or_crash_the_decoder_are_refused(
    registry_dir: RegistryDir, field_type: object, reason: str
) -> None:
    registry_dir.add_event("tree.grown", {1: record("Node", {"name": "next", "type": field_type})})
    problems = problems_of(registry_dir.root)
    assert len(problems) == 1
    assert problems[0].startswith("events/tree.grown/v1.avsc: ")
    assert reason in problems[0]


def test_the_envelope_must_carry_every_metadata_field(registry_dir: RegistryDir) -> None:
    metadata = registry_dir.read("nexus/metadata.v1.avsc")
    metadata["fields"] = [f for f in metadata["fields"] if f["name"] != "traceparent"]
    registry_dir.write("nexus/metadata.v1.avsc", metadata)
    problems = problems_of(registry_dir.root)
    assert len(problems) == 1
    assert "nexus/envelope.v1.avsc" in problems[0]
    assert "metadata lacks fields traceparent" in problems[0]


def test_every_problem_is_listed_at_once(registry_dir: RegistryDir) -> None:
    registry_dir.write("events/chat.message/v1.avsc", "{")
    registry_dir.write("events/search.failed/v1.avsc", json.dumps({"type": "int"}))
    registry_dir.edit_manifest(lambda m: m["events"]["system.notice"].update(topic="dlq"))
    problems = problems_of(registry_dir.root)
    assert len(problems) == 3
    files = " ".join(problems)
    for name in ("chat.message", "search.failed", "system.notice"):
        assert name in files


def test_a_timeout_event_the_gateway_cannot_fill_is_rejected(registry_dir: RegistryDir) -> None:
    """The gateway fills a flow's timeout event from the request's fields and ``timeout_ms``:
    a field it cannot fill, without a default, would fail when the timeout fires."""
    timeout = registry_dir.read("events/search.timeout/v1.avsc")
    timeout["fields"] = [
        {"name": "query", "type": ["null", "string"], "default": None},
        {"name": "timeout_ms", "type": "string"},
        {"name": "reason", "type": "string"},
        {"name": "hint", "type": "string", "default": "retry later"},
    ]
    registry_dir.write("events/search.timeout/v1.avsc", timeout)
    problems = problems_of(registry_dir.root)
    assert problems == [
        "events/search.timeout/v1.avsc: field 'timeout_ms' must take a number: flow 'search' "
        "puts its timeout in milliseconds there",
        "events/search.timeout/v1.avsc: field 'reason' needs a default: flow 'search' fills its "
        "timeout event only from 'search.requested' fields and timeout_ms",
    ]


def with_limit(
    registry_dir: RegistryDir, request: dict[str, object], timeout: dict[str, object]
) -> None:
    """``limit`` as ``request`` in search.requested, and in a search.timeout v2 as ``timeout``."""
    requested = registry_dir.read("events/search.requested/v1.avsc")
    requested["fields"] = [f for f in requested["fields"] if f["name"] != "limit"] + [request]
    registry_dir.write("events/search.requested/v1.avsc", requested)
    timeout_v2 = registry_dir.read("events/search.timeout/v1.avsc")
    timeout_v2["fields"].append({"name": "limit", **timeout})
    registry_dir.write("events/search.timeout/v2.avsc", timeout_v2)
    registry_dir.edit_manifest(lambda m: m["events"]["search.timeout"].update(versions=[1, 2]))


def _record(name: str, *fields: str) -> dict[str, object]:
    return {
        "type": "record",
        "name": name,
        "fields": [{"name": field, "type": "string"} for field in fields],
    }


@pytest.mark.parametrize(
    ("request_field", "timeout_field", "reason"),
    [
        # The review's case: a search without limit has limit null, which the gateway copies
        # into the timeout event; the timeout's default does not apply to a value it was given.
        ({"type": ["null", "int"], "default": None}, {"type": "int", "default": 10}, "null"),
        ({"type": "string"}, {"type": "int"}, '"int" does not take every "string"'),
        # Avro would resolve these; the gateway copies JSON, whose forms differ.
        ({"type": "string"}, {"type": "bytes"}, '"bytes" does not take every "string"'),
        (
            {"type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
            {"type": {"type": "enum", "name": "Colour", "symbols": ["RED"], "default": "RED"}},
            "does not take every",
        ),
        (
            {"type": _record("Filter", "genre", "mood")},
            {"type": _record("Filter", "genre")},
            "does not take every",
        ),
        (
            {"type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"type": "long"},
            '"long" does not take every',
        ),
        (
            {"type": "string"},
            {"type": {"type": "string", "logicalType": "uuid"}},
            'does not take every "string"',
        ),
        # A logical type the avro package lacks is still one: its JSON form is a string.
        (
            {"type": {"type": "long", "logicalType": "local-timestamp-millis"}},
            {"type": "double"},
            '"double" does not take every',
        ),
        # Rounded past 2**53: 9007199254740993 would reach the client as ...992.
        ({"type": "long"}, {"type": "double"}, '"double" does not take every "long"'),
        # json_in takes a value with the first branch of its kind that converts it.
        (
            {"type": "long"},
            {"type": ["double", "long"]},
            '"double", an earlier branch of ["double", "long"], would take some "long"',
        ),
        (
            {"type": "string"},
            {"type": ["bytes", "string"]},
            '"bytes", an earlier branch of ["bytes", "string"], would take some "string"',
        ),
    ],
    ids=[
        "null-into-non-null",
        "string-into-int",
        "string-into-bytes",
        "enum-losing-a-symbol",
        "record-losing-a-field",
        "timestamp-into-long",
        "string-into-uuid",
        "local-timestamp-into-double",
        "long-into-double",
        "long-behind-a-double-branch",
        "string-behind-a-bytes-branch",
    ],
)
def test_a_timeout_field_that_cannot_take_the_request_value_is_rejected(
    registry_dir: RegistryDir,
    request_field: dict[str, object],
    timeout_field: dict[str, object],
    reason: str,
) -> None:
    """The gateway copies each request value into the timeout field of the same name
    (:meth:`Flow.timeout_values`): one the timeout's type cannot read fails when the timeout
    fires, in the gateway's timer, and the client is never told."""
    with_limit(registry_dir, {"name": "limit", **request_field}, timeout_field)
    problems = problems_of(registry_dir.root)
    assert len(problems) == 1, problems
    types = (
        f"{json.dumps(timeout_field['type'])} in 'search.timeout' but "
        f"{json.dumps(request_field['type'])} in 'search.requested'"
    )
    assert problems[0].startswith(
        f"events/search.timeout/v2.avsc: field 'limit' is {types}: flow 'search' copies "
        "the request's value into its timeout event, and not every value can be taken by "
        "the timeout's type ("
    ), problems
    assert reason in problems[0], problems


@pytest.mark.parametrize(
    ("request_type", "timeout_type", "value"),
    [
        ("int", "long", 2**31 - 1),  # Avro promotes int to long
        (["null", "int"], ["null", "int"], None),
        ("string", ["null", "string"], "rust"),  # as the shipped query field
        ("int", "double", 7),  # the JSON reader takes an integer for a double
        (
            {"type": "long", "logicalType": "timestamp-millis"},
            ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            1_700_000_000_000,
        ),
        (
            _record("Filter", "genre"),
            {**_record("Filter", "genre"), "doc": "a filter, documented here only"},
            {"genre": "jazz"},
        ),
    ],
    ids=["int-to-long", "identical", "into-a-union", "int-to-double", "timestamp", "record"],
)
def test_a_timeout_field_that_can_always_take_the_request_value_is_accepted(
    registry_dir: RegistryDir, request_type: object, timeout_type: object, value: object
) -> None:
    with_limit(registry_dir, {"name": "limit", "type": request_type}, {"type": timeout_type})
    registry = load_registry(registry_dir.root)

    # And the gateway fills it, as it does when the timeout fires.
    codec, flow = Codec(registry), registry.flows["search"]
    request = codec.payload_from_json("search.requested", {"query": "q", "limit": value})
    fields = [f["name"] for f in registry.latest("search.timeout").schema["fields"]]
    values = flow.timeout_values(fields, codec.payload_to_json("search.requested", request))
    filled = codec.payload_from_json("search.timeout", values)
    assert (filled["query"], filled["timeout_ms"]) == ("q", 10_000)
    # The same value, as a client reads it on either event.
    copied = codec.payload_to_json("search.timeout", filled)["limit"]
    assert copied == codec.payload_to_json("search.requested", request)["limit"]


def test_clients_cannot_be_allowed_to_send_a_system_event(registry_dir: RegistryDir) -> None:
    """Gateways hand the system topic to every connection: a client-sendable system event
    would let any client write to every tenant."""
    registry_dir.edit_manifest(
        lambda m: m["events"]["system.notice"].update(senders=["client", "service"])
    )
    assert problems_of(registry_dir.root) == [
        "manifest.json: events['system.notice']: a system event cannot be sent by clients: it "
        "reaches everyone"
    ]


def test_a_failure_reply_the_service_sdk_cannot_fill_is_rejected(
    registry_dir: RegistryDir,
) -> None:
    """The service SDK answers a failed handler with the flow's ``failure`` reply, filled
    with a code and a message only: a schema it cannot fill would leave the client waiting."""
    failed = registry_dir.read("events/search.failed/v1.avsc")
    failed["fields"] = [
        {"name": "code", "type": "int"},
        {"name": "detail", "type": "string"},
        {"name": "hint", "type": "string", "default": "retry later"},
    ]
    registry_dir.write("events/search.failed/v1.avsc", failed)
    assert problems_of(registry_dir.root) == [
        "events/search.failed/v1.avsc: field 'code' must take a string: flow 'search' sends "
        "this type when its handler fails, with a code and a message",
        "events/search.failed/v1.avsc: field 'message' must take a string: flow 'search' sends "
        "this type when its handler fails, with a code and a message",
        "events/search.failed/v1.avsc: field 'detail' needs a default: flow 'search' fills its "
        "failure reply only with code and message",
    ]


def test_a_failure_reply_must_be_one_of_the_flow_replies(registry_dir: RegistryDir) -> None:
    registry_dir.edit_manifest(lambda m: m["flows"]["search"].update(failure="search.timeout"))
    assert problems_of(registry_dir.root) == [
        "manifest.json: flows['search']: failure 'search.timeout' must be one of the flow's replies"
    ]


def test_the_failure_reply_is_known_by_its_request(registry_dir: RegistryDir) -> None:
    registry = load_registry(registry_dir.root)
    flow = registry.flow_for_request("search.requested")
    assert flow is not None and flow.failure_type == "search.failed"
    assert registry.flow_for_request("chat.message") is None


def test_a_failure_reply_must_be_one_services_may_send(registry_dir: RegistryDir) -> None:
    """Otherwise every failure reply would be refused at the publisher, and the requester
    left to its timeout after all."""
    registry_dir.edit_manifest(lambda m: m["events"]["search.failed"].update(senders=["gateway"]))
    assert problems_of(registry_dir.root) == [
        "manifest.json: flows['search']: failure 'search.failed' must list service among its "
        "senders: the service SDK sends it"
    ]


@pytest.mark.parametrize(
    ("event", "role"),
    [
        ("search.completed", "reply"),
        ("search.failed", "failure"),
    ],
)
def test_a_reply_clients_may_send_is_rejected(
    registry_dir: RegistryDir, event: str, role: str
) -> None:
    """A client-sent reply goes to the whole campaign with the correlation_id the client
    chose: it would end another connection's request and reach it as its answer, when
    DESIGN.md section 6 has a reply reach the requesting connection only."""
    registry_dir.edit_manifest(lambda m: m["events"][event].update(senders=["client", "service"]))
    assert problems_of(registry_dir.root) == [
        f"manifest.json: flows['search']: {role} {event!r} cannot list client among its "
        "senders: a client could answer, and end, another connection's request"
    ]


def test_a_timeout_clients_may_send_is_rejected(registry_dir: RegistryDir) -> None:
    """Only the gateway that tracks a request may say it timed out."""
    registry_dir.edit_manifest(
        lambda m: m["events"]["search.timeout"].update(senders=["client", "gateway"])
    )
    assert problems_of(registry_dir.root) == [
        "manifest.json: flows['search']: timeout 'search.timeout' cannot list client among its "
        "senders: a client could answer, and end, another connection's request"
    ]


def test_a_reply_must_be_one_services_may_send(registry_dir: RegistryDir) -> None:
    """A service's every answer would be refused at its publisher and dead-lettered, one
    record at a time, after a start that looked fine."""
    registry_dir.edit_manifest(lambda m: m["events"]["search.completed"].update(senders=["client"]))
    assert problems_of(registry_dir.root) == [
        "manifest.json: flows['search']: reply 'search.completed' must list service among its "
        "senders: a service answers the flow",
        "manifest.json: flows['search']: reply 'search.completed' cannot list client among its "
        "senders: a client could answer, and end, another connection's request",
    ]
