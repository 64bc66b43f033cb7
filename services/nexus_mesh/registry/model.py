"""What a loaded registry knows: event types, flows and their parsed schema versions.

Everything here is immutable and computed once by the loader, so gateways and services can
share one :class:`Registry` and ask it questions on the hot path without locks or I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nexus_mesh.errors import UnknownTypeError

CLIENTS_TOPIC = "clients"
SYSTEM_TOPIC = "system"
ENVELOPE_SUBJECT = "nexus.envelope"


@dataclass(frozen=True, kw_only=True)
class EventType:
    """One manifest entry: where the type travels and who may send it."""

    name: str
    topic: str | None
    """``"clients"``, ``"system"``, a service domain such as ``"search"``, or None for
    protocol events that exist only on the socket."""
    client_sendable: bool
    versions: tuple[int, ...]
    senders: frozenset[str] = frozenset()
    doc: str = ""

    @property
    def latest(self) -> int:
        return self.versions[-1]


# The field of a flow's timeout event that gets the flow's timeout, when its schema has one.
TIMEOUT_MS_FIELD = "timeout_ms"
# The fields of a flow's failure reply the service SDK fills (a code, and words for people).
FAILURE_FIELDS = ("code", "message")


@dataclass(frozen=True, kw_only=True)
class Flow:
    """A client request answered by a service, or by the gateway's timeout event."""

    name: str
    request: str
    replies: tuple[str, ...]
    timeout_ms: int
    timeout_type: str
    failure_type: str | None = None
    """One of ``replies``: what the service SDK answers the requester with when the handler
    fails (raises, times out, or runs out of retries), so that the client learns it at once
    instead of waiting for the timeout. Its payload is ``{"code": ..., "message": ...}``."""

    def timeout_values(
        self, timeout_fields: Iterable[str], request_values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The timeout event's values, as the gateway makes it: the request's, for the
        fields the timeout's schema has too, and the timeout in ``timeout_ms``. Any other
        field of that schema must have a default (the registry loader refuses it otherwise).
        """
        fields = set(timeout_fields)
        values = {name: value for name, value in request_values.items() if name in fields}
        if TIMEOUT_MS_FIELD in fields:
            values[TIMEOUT_MS_FIELD] = self.timeout_ms
        return values


@dataclass(frozen=True, kw_only=True)
class ClientTarget:
    """What the gateway produces when a client sends a given name."""

    type: str
    flow: Flow | None


@dataclass(frozen=True, kw_only=True, eq=False)
class SchemaVersion:
    """One version of one subject (an event type, or the envelope) with its derived forms."""

    subject: str
    version: int
    path: Path
    file: str
    """``path`` relative to the registry directory, as problems name it."""
    schema: Mapping[str, Any]
    """Self-contained Avro JSON (the envelope's metadata record inlined)."""
    parsed: Any
    """fastavro's parsed schema, ready for its readers and writers."""
    canonical: str
    """Parsing Canonical Form, the input of the fingerprint."""
    fingerprint: bytes
    """CRC-64-AVRO of ``canonical``, little-endian, as single-object encoding frames it."""

    @property
    def label(self) -> str:
        return f"{self.subject} v{self.version}"


class Registry:
    """The validated content of one ``schemas/`` directory; build it with ``load_registry``."""

    def __init__(
        self,
        *,
        directory: Path,
        events: Mapping[str, EventType],
        flows: Mapping[str, Flow],
        schemas: Mapping[str, tuple[SchemaVersion, ...]],
        envelope_versions: tuple[SchemaVersion, ...],
        files: Mapping[str, Any],
    ) -> None:
        self.directory = directory
        self._events = dict(events)
        self.flows: Mapping[str, Flow] = MappingProxyType(dict(flows))
        self._schemas = dict(schemas)
        self.envelope_versions = envelope_versions
        self.files: Mapping[str, Any] = MappingProxyType(dict(files))
        """Every schema file as written (parsed JSON), by path relative to ``directory``."""
        self.domains = frozenset(
            e.topic
            for e in self._events.values()
            if e.topic not in (None, CLIENTS_TOPIC, SYSTEM_TOPIC)
        )
        self._request_flows = {flow.request: flow for flow in self.flows.values()}
        self._reply_flows = {reply: flow for flow in self.flows.values() for reply in flow.replies}
        self._client_targets = self._build_client_targets()

    def _build_client_targets(self) -> dict[str, ClientTarget]:
        targets = {
            event.name: ClientTarget(type=event.name, flow=self._request_flows.get(event.name))
            for event in self._events.values()
            if event.client_sendable
        }
        for flow in self.flows.values():
            targets[flow.name] = ClientTarget(type=flow.request, flow=flow)
        return targets

    def get(self, type: str) -> EventType | None:
        return self._events.get(type)

    def event(self, type: str) -> EventType:
        try:
            return self._events[type]
        except KeyError:
            # A flow's name is what clients send, and the likeliest mistake of a service
            # author or of `nexus publish`: name the type it stands for.
            flow = self.flows.get(type)
            message = f"unknown event type {type!r}"
            if flow is not None:
                message += f" ({type!r} is a flow clients send; its event is {flow.request!r})"
            raise UnknownTypeError(message) from None

    def client_target(self, name: str) -> ClientTarget | None:
        """A flow name or a client-sendable type, resolved; None if clients may not send it."""
        return self._client_targets.get(name)

    def flow_for_request(self, type: str) -> Flow | None:
        """The flow that ``type`` starts, if it is one of a flow's requests."""
        return self._request_flows.get(type)

    def flow_for_reply(self, type: str) -> Flow | None:
        """The flow that ``type`` answers, if it is one of a flow's replies."""
        return self._reply_flows.get(type)

    def types(self) -> Iterable[EventType]:
        return self._events.values()

    def versions(self, type: str) -> tuple[SchemaVersion, ...]:
        """Every schema version of ``type``, oldest first."""
        self.event(type)
        return self._schemas[type]

    def latest(self, type: str) -> SchemaVersion:
        return self.versions(type)[-1]
