"""One error tree for the whole mesh.

Like aiokafka's, every error says whether retrying the same operation later can succeed
(``retriable``); callers decide on that flag instead of on a list of classes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiokafka.structs import RecordMetadata


class NexusError(Exception):
    """Base of every error Nexus Mesh raises on purpose."""

    retriable: bool = False


class ConfigurationError(NexusError, ValueError):
    """A setting, file or command-line value is invalid; fix it and start again.

    A ``ValueError`` too, so that code catching ``ValueError`` for an invalid value (what
    ``ServiceConfig`` and ``Service`` raised before) still catches it.
    """


class TopicMissingError(ConfigurationError):
    """Topics the mesh needs do not exist yet.

    Producing never creates a topic (DESIGN.md section 4): a broker would give it its own
    partition count and retention, which ``nexus topics ensure`` could then never fix. So
    retrying is pointless until that command has run.
    """

    def __init__(self, *topics: str) -> None:
        names = ", ".join(topics)
        subject = f"topic {names} does" if len(topics) == 1 else f"topics {names} do"
        super().__init__(f"{subject} not exist: run `nexus topics ensure` first")
        self.topics = topics


class LocalKafkaError(NexusError):
    """The local development broker could not be resolved, started, found or stopped."""


class TopicConfigError(NexusError):
    """An existing topic disagrees with the configuration (e.g. its partition count)."""


class KafkaUnavailableError(NexusError):
    """The broker cannot be reached right now."""

    retriable = True


class ProduceRejectedError(NexusError):
    """Kafka refused a write for a reason that retrying it will not change.

    A record over the broker's ``message.max.bytes``, a topic the client may not write to:
    unlike an outage, the same write gets the same answer, so a service dead-letters the
    request at once instead of retrying it.

    ``too_large``: the record exceeds a size limit of the client's or the broker's, so a
    smaller event would be taken where this one was not.
    """

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


class RetriableError(NexusError):
    """Raise it from a service handler to have the handler tried again.

    The service retries up to ``ServiceConfig.retry_attempts`` times with backoff, then
    dead-letters the request. For a third-party exception that means "try again" (a dropped
    HTTP connection), list its class in ``ServiceConfig.retry_on`` instead of wrapping it.
    """

    retriable = True


class HandlerTimeoutError(NexusError, TimeoutError):
    """A service handler ran past ``ServiceConfig.handler_timeout_s`` and was cancelled."""


class HandlerCancelledError(NexusError):
    """A service handler raised ``CancelledError`` that was not meant for it (a task it
    awaited was cancelled): a failure of the handler, dead-lettered as any other."""


class WriteInDoubtError(KafkaUnavailableError):
    """A write was queued but not acknowledged in time; it may still land.

    ``delivery`` resolves when the producer finally knows (record metadata or an error), so
    an idempotent caller can answer a retry of the same event from it instead of writing a
    second record.
    """

    def __init__(self, message: str, *, delivery: asyncio.Future[RecordMetadata]) -> None:
        super().__init__(message)
        self.delivery = delivery


class RegistryError(ConfigurationError):
    """The schema registry directory is invalid; ``problems`` lists each file and reason."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


class UnknownTypeError(NexusError):
    """The event type is not in the registry's manifest."""


class PayloadInvalidError(NexusError):
    """A payload does not match its type's schema; the message names the offending path."""


class CodecError(NexusError):
    """Bytes that are not a decodable envelope: truncated, corrupt, or of an unknown schema.

    Retrying the same bytes gives the same answer, so consumers send them to the DLQ.
    """


class UnknownSchemaError(CodecError):
    """Well-framed bytes whose schema fingerprint this registry does not hold.

    Usually a producer runs a newer ``schemas/`` than this process; deploying it fixes it.
    """
