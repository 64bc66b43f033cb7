"""What a client is told when its event could not be written to Kafka, and what is logged.

Every answer here means "not written": an event that may still land is ``unconfirmed``,
answered where the write is made. The code tells the client whether resending helps.
"""

from __future__ import annotations

import logging

from nexus_gateway.protocol import ClientEventError, ErrorCode
from nexus_mesh.errors import KafkaUnavailableError, ProduceRejectedError, TopicMissingError

# The ingress's logger, as before this module was split from it: operators' log filters and
# alerts on these lines keep working.
log = logging.getLogger("nexus_gateway.ingress")


def unwritten(exc: Exception, event_type: str, event_id: str) -> ClientEventError:
    """The answer to an event whose write failed with ``exc``; logs what an operator needs."""
    if isinstance(exc, KafkaUnavailableError):
        # The usual outage: the Kafka clients' own log lines say it.
        return ClientEventError(
            ErrorCode.UNAVAILABLE, "Kafka is unavailable: retry with the same event_id", event_id
        )
    if isinstance(exc, TopicMissingError):
        # An operator's job (`nexus topics ensure`), said once per event, no traceback.
        log.error("client event %s refused: %s", event_id, exc)
        return ClientEventError(
            ErrorCode.UNAVAILABLE,
            f"{event_type} cannot be accepted yet (its topic is missing): retry later",
            event_id,
        )
    if isinstance(exc, ProduceRejectedError):
        # Retrying will not help (so not a retryable code), but the broker said why: one
        # line, no traceback.
        log.error("client event %s refused: %s", event_id, exc)
        return ClientEventError(
            ErrorCode.TOO_LARGE if exc.too_large else ErrorCode.INTERNAL,
            f"Kafka refused {event_type}; it was not written (resending will not help)",
            event_id,
        )
    # The gateway's own fault, not Kafka's: a client told to retry would fail the same way
    # forever. The event id leads an operator to this traceback.
    log.error("writing client event %s failed", event_id, exc_info=exc)
    return ClientEventError(
        ErrorCode.INTERNAL,
        f"the gateway failed to write {event_type} (its fault, logged with this event_id); "
        "it was not written",
        event_id,
    )
