"""What a record read from ``<prefix>.clients`` or ``<prefix>.system`` must be to reach clients.

Services written with the SDK cannot break these rules (its publisher refuses to); a producer
written in another language, or by hand, can. Live delivery and a resume's replay apply the
same rules, so a record either reaches every connection it is for, live and replayed, or none:

- its type is one the manifest sends on that topic. A protocol event (``nexus.ack``,
  ``nexus.welcome``, ...) written to Kafka would be taken by clients as the gateway's own
  answer, and a domain event (``search.requested``) or a broadcast type on the clients topic
  is not for clients;
- a broadcast names no campaign, user or connection (campaign ``*``): everything on the
  system topic goes to every connection of every campaign, so an event addressed to one
  campaign written there would reach every other tenant;
- its frame fits ``NEXUS_GATEWAY_MAX_DELIVERY_BYTES``: a client refuses a frame above its own
  limit by closing (1009), and a resume would replay the same frame and close again, for ever.
  A reply skipped for its size answers nothing, so its requester gets the flow's timeout.

A skipped record is counted in ``nexus_gateway_misrouted_records_total`` (or, for its size,
``nexus_gateway_oversized_deliveries_total``) and logged with its producer's ``ce_source``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.envelope import BROADCAST_CAMPAIGN, Envelope
from nexus_mesh.kafka.records import header
from nexus_mesh.registry import Registry
from nexus_mesh.registry.model import CLIENTS_TOPIC, SYSTEM_TOPIC

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Misplaced:
    """Why a record must not reach clients: ``why`` is a fixed %-template, so that a log's
    repeat filter holds back a flood of one kind without hiding another."""

    why: str
    args: tuple[object, ...]


_WRONG_TOPIC = "type %s is not sent on %s (the manifest gives it %s)"
_ADDRESSED_BROADCAST = (
    "a broadcast goes to every connection, so it must name campaign '*' and no user or "
    "connection (it names campaign %r)"
)


def misplaced(registry: Registry, envelope: Envelope, *, system: bool) -> Misplaced | None:
    """Why ``envelope``, read from the system topic (``system``) or the clients topic, must
    not reach clients; None when it may."""
    expected = SYSTEM_TOPIC if system else CLIENTS_TOPIC
    event = registry.get(envelope.type)
    topic = event.topic if event is not None else None
    if topic != expected:
        where = f"topic {topic}" if topic else "no topic: a protocol event of the gateway's own"
        return Misplaced(_WRONG_TOPIC, (envelope.type, expected, where))
    if system:
        meta = envelope.metadata
        if meta.campaign_id != BROADCAST_CAMPAIGN or meta.user_id or meta.connection_id:
            return Misplaced(_ADDRESSED_BROADCAST, (meta.campaign_id[:128],))
    return None


def written_by(record: ConsumerRecord[bytes, bytes]) -> str:
    """Who wrote ``record``, for a log line about it: its ``ce_source`` and ``ce_type``
    headers and its key, each cut short (none of them is a payload or a secret)."""
    source = header(record.headers, "ce_source")
    event_type = header(record.headers, "ce_type")
    key = record.key.decode(errors="replace") if record.key is not None else None
    return f"ce_source {_short(source)}, ce_type {_short(event_type)}, key {_short(key)}"


def repeat_key(record: ConsumerRecord[bytes, bytes], why: str) -> dict[str, str]:
    """``extra=`` for a log line about a bad record: the log's repeat filter holds back a
    flood per producer (``ce_source``) and kind of fault, not per line, so one producer's
    bad records never hide another's, nor one fault another."""
    return {"repeat_key": f"{_short(header(record.headers, 'ce_source'))} {why[:80]}"}


def _short(value: str | None) -> str:
    return "(none)" if value is None else repr(value[:80])


class DeliveryLimit:
    """The largest frame clients take (``NEXUS_GATEWAY_MAX_DELIVERY_BYTES``), as live
    delivery and a resume's replay apply it alike."""

    __slots__ = ("_metrics", "max_bytes")

    def __init__(self, metrics: GatewayMetrics, max_bytes: int) -> None:
        self._metrics = metrics
        self.max_bytes = max_bytes

    def admits(
        self,
        envelope: Envelope,
        frame: bytes,
        record: ConsumerRecord[bytes, bytes],
        *,
        say: bool = True,
    ) -> bool:
        """Whether ``frame`` may be sent; one that may not is counted and logged, unless
        ``say`` is False (another frame of the same record was already)."""
        if len(frame) <= self.max_bytes:
            return True
        if say:
            self._metrics.oversized.labels(envelope.type).inc()
            log.warning(
                "not delivering event %s (%s, record %s-%s@%s, %s): its frame is %d bytes, "
                "over NEXUS_GATEWAY_MAX_DELIVERY_BYTES (%d), more than clients accept",
                envelope.metadata.event_id,
                envelope.type,
                record.topic,
                record.partition,
                record.offset,
                written_by(record),
                len(frame),
                self.max_bytes,
                extra=repeat_key(record, envelope.type),
            )
        return False
