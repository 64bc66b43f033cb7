"""Dead letters: a record a service could not decode or handle, parked in ``<prefix>.dlq``.

The original key, value and headers are kept byte for byte, so the record can be inspected,
or written back to its topic by a tool of your own (the mesh has none; a service skips an
``event_id`` it dead-lettered within its dedupe TTL, so give a re-driven request a new one);
the reason travels in extra ``nexus-*`` headers, so tools can triage a DLQ without decoding
anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from nexus_mesh.errors import ProduceRejectedError
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.logs import redact
from nexus_mesh.prometheus import timed_write
from nexus_mesh.service.metrics import ServiceMetrics

log = logging.getLogger(__name__)

ERROR_HEADER = "nexus-error"
ERROR_TYPE_HEADER = "nexus-error-type"
ORIGINAL_TOPIC_HEADER = "nexus-original-topic"
ORIGINAL_PARTITION_HEADER = "nexus-original-partition"
ORIGINAL_OFFSET_HEADER = "nexus-original-offset"
SERVICE_HEADER = "nexus-service"
# Set when Kafka refused the dead letter with the record's value: why, and that the original
# is still at nexus-original-topic/partition/offset (until its retention ends).
VALUE_DROPPED_HEADER = "nexus-value-dropped"

# Records are limited in size by the broker (message.max.bytes); a huge exception text
# must not make the dead letter itself unwritable.
_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, kw_only=True, slots=True)
class FailedRecord:
    """What is needed of a consumed record to dead-letter it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Iterable[tuple[str, bytes | None]]


def error_text(error: BaseException) -> str:
    # Read by whoever reads the dead-letter topic: no credential an error quoted goes along.
    text = redact(str(error) or repr(error))
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 1] + "…"
    return text


def error_type(error: BaseException) -> str:
    cls = type(error)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def dead_letter_headers(
    record: FailedRecord, error: BaseException, *, service: str
) -> list[tuple[str, bytes | None]]:
    # A null header value (Kafka allows one; aiokafka reads it as None) is kept null.
    headers: list[tuple[str, bytes | None]] = [
        (name, None if value is None else bytes(value)) for name, value in record.headers
    ]
    headers.extend(
        [
            (ERROR_HEADER, error_text(error).encode()),
            (ERROR_TYPE_HEADER, error_type(error).encode()),
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            (ORIGINAL_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGINAL_OFFSET_HEADER, str(record.offset).encode()),
            (SERVICE_HEADER, service.encode()),
        ]
    )
    return headers


class DeadLetters:
    """Writes dead letters, insisting until Kafka has them.

    A record is committed only after its dead letter is written; giving up on the write
    would silently lose it, so failures are retried with backoff until the write succeeds or
    the service stops (and then the record is not committed and comes back on restart). One
    Kafka refuses for good with its value is written without it (``nexus-value-dropped``):
    the headers still name the original's topic, partition and offset.
    """

    def __init__(
        self,
        *,
        producer: EnvelopeProducer,
        topic: str,
        service: str,
        max_backoff_s: float = 5.0,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._service = service
        self._max_backoff_s = max_backoff_s
        self._metrics = metrics
        self._latency = partial(metrics.produce_latency.labels, service) if metrics else None

    @property
    def topic(self) -> str:
        return self._topic

    async def write(self, record: FailedRecord, error: BaseException) -> Written:
        headers = dead_letter_headers(record, error, service=self._service)
        # A tombstone (no value) is kept as an empty value: the DLQ is not compacted, and the
        # headers still say where the record came from.
        value = record.value if record.value is not None else b""
        backoff = 0.1
        while True:
            try:
                # Each attempt is timed, as every write is: a failed one is logged below too.
                with timed_write(self._latency):
                    written = await self._producer.send_raw(
                        topic=self._topic, key=record.key, value=value, headers=headers
                    )
            except Exception as exc:
                if isinstance(exc, ProduceRejectedError) and value:
                    # Refused for good (the record with its error headers is over the DLQ's
                    # max.message.bytes): the headers still say where the original is, so
                    # they are written alone rather than insisted on for ever.
                    log.error(
                        "dead letter of %s-%s@%s refused (%s); writing it without its value",
                        record.topic,
                        record.partition,
                        record.offset,
                        exc,
                    )
                    value = b""
                    headers = [*headers, (VALUE_DROPPED_HEADER, str(exc).encode()[:1024])]
                    continue
                log.warning(
                    "cannot dead-letter %s-%s@%s yet (%s); retrying in %.1f s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc,
                    backoff,
                )
            else:
                return written
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
