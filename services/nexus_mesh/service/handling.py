"""What a service does with one record: decode, dedupe, call its handler, dead-letter.

Nothing a record contains can escape from here: the worst a record can do is end up in
``<prefix>.dlq``. A handler is retried on an error that says so (``ServiceConfig.retry_on``),
up to ``retry_attempts``; on Kafka being unavailable it is retried until Kafka is back (or
the service stops, leaving the record uncommitted), since an outage says nothing about the
request. When it fails for good and the request starts a flow with a ``failure`` reply
(``schemas/manifest.json``), the requester gets that reply before the request is
dead-lettered, unless the handler had already answered.

Each record a handler is meant for is one ``process <topic>`` consumer span, the child of the
span that produced it (its ``traceparent`` header, else its metadata), so the handler's
replies join the trace of the request. Records of types this service does not handle get no
span: every service of a domain sees them, and only the one that handles them matters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import ConsumerRecord, TopicPartition
from opentelemetry import trace

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import HandlerCancelledError, HandlerTimeoutError, KafkaUnavailableError
from nexus_mesh.logs import redact
from nexus_mesh.service.config import ServiceConfig
from nexus_mesh.service.context import Context, Origin
from nexus_mesh.service.dedupe import SeenEvents
from nexus_mesh.service.dlq import DeadLetters, FailedRecord
from nexus_mesh.service.metrics import (
    DLQ_HANDLER,
    DLQ_UNDECODABLE,
    FAILED,
    HANDLED,
    TIMED_OUT,
    ServiceMetrics,
)
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.tracing import Telemetry
from nexus_mesh.tracing.records import record_span
from nexus_mesh.tracing.spans import OUTCOME, record_error

Handler = Callable[[Envelope, Context], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]

# Whether the record in hand is still this instance's to finish: false once the service
# stops or a rebalance begins.
Current = Callable[[], bool]

# What a failure reply says: a code clients can act on, and no detail of the error (it may
# hold anything the handler touched; the dead letter keeps it for operators).
FAILURE_CODE = "internal"


class RecordAbandoned(Exception):  # noqa: N818 - an outcome, not an error of the record
    """A record left unfinished while retrying (the service stops, or a rebalance takes its
    partition): not committed, so it is handled again by whoever reads it next."""


def retry_delay(config: ServiceConfig, nth: int) -> float:
    """Seconds before the ``nth`` retry: doubling from ``retry_backoff_s``, capped."""
    # The exponent is capped too: an outage of hours must not overflow the float.
    return min(
        config.retry_backoff_s * 2.0 ** min(nth - 1, 32),
        max(config.max_backoff_s, config.retry_backoff_s),
    )


def _always() -> bool:
    return True


def _cancelled_from_outside() -> bool:
    # A stop or a rebalance cancels the record's task (``cancelling()`` counts it); a
    # handler timeout's cancellation is already undone once ``asyncio.timeout`` exits.
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _abandon_unless(current: Current, envelope: Envelope) -> None:
    # Stopping, or the partition went to another instance: the record is left uncommitted
    # for whoever reads it next, not answered or dead-lettered here.
    if not current():
        raise RecordAbandoned(f"{envelope.type} {envelope.metadata.event_id}")


@dataclass(kw_only=True, slots=True)
class ServiceStats:
    """Counters of what became of the records this instance read."""

    handled: int = 0
    duplicates: int = 0
    unhandled: int = 0
    dead_lettered: int = 0
    assigned: frozenset[TopicPartition] = field(default_factory=frozenset)


class RecordHandling:
    """Deals with one record at a time; the runner decides which and when."""

    def __init__(
        self,
        *,
        name: str,
        handlers: Mapping[str, Handler],
        config: ServiceConfig,
        codec: Codec,
        publisher: Publisher,
        dead_letters: DeadLetters,
        log: logging.Logger,
        group_id: str | None,
        telemetry: Telemetry,
        metrics: ServiceMetrics,
        stats: ServiceStats,
        failure_replies: Mapping[str, str] | None = None,
    ) -> None:
        """``failure_replies`` maps a request type to the reply sent when its handler fails."""
        self._name = name
        self._handlers = dict(handlers)
        self._config = config
        self._codec = codec
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._log = log
        self._group_id = group_id
        self._telemetry = telemetry
        # The handlers' own spans, under a scope of the service's: the mesh's are its.
        self._tracer = telemetry.tracer_provider.get_tracer(f"nexus.service.{name}")
        self._metrics = metrics
        self._stats = stats
        self._failure_replies = dict(failure_replies or {})
        self._seen = SeenEvents(max_entries=config.dedupe_max_entries, ttl_s=config.dedupe_ttl_s)
        self._unhandled_types: set[str] = set()

    async def handle(self, record: Record, *, current: Current = _always) -> None:
        """Deal with ``record``; raises :class:`RecordAbandoned` when ``current()`` turns false
        while its handler waits to be retried."""
        began = time.perf_counter()
        envelope: Envelope | None = None
        failure: Exception | None = None
        try:
            envelope = self._codec.decode(record.value if record.value is not None else b"")
        except Exception as exc:
            failure = exc
        if not self._telemetry.enabled or (
            envelope is not None and envelope.type not in self._handlers
        ):
            await self._dispatch(record, envelope, failure, began, current)
            return
        abandoned: RecordAbandoned | None = None
        with record_span(
            self._telemetry.tracer, record, envelope, consumer_group=self._group_id
        ) as span:
            try:
                outcome = await self._dispatch(record, envelope, failure, began, current)
            except RecordAbandoned as exc:
                # Given up for the partition's next owner (a rebalance or a stop while it
                # waited to be retried), who handles it: not a failure of this record.
                abandoned, outcome = exc, "abandoned"
            except asyncio.CancelledError:
                span.set_attribute(OUTCOME, "cancelled")
                raise
            if span.is_recording():
                span.set_attribute(OUTCOME, outcome)
        if abandoned is not None:
            raise abandoned

    async def _dispatch(
        self,
        record: Record,
        envelope: Envelope | None,
        failure: Exception | None,
        began: float,
        current: Current,
    ) -> str:
        """Deal with one record; returns what became of it (the span's ``nexus.outcome``)."""
        if envelope is None:
            assert failure is not None
            record_error(trace.get_current_span(), failure)
            await self._dead_letter(record, failure, reason=DLQ_UNDECODABLE)
            return "dead_lettered"
        self._metrics.events_in.labels(self._name, envelope.type).inc()
        origin = Origin(topic=record.topic, partition=record.partition, offset=record.offset)
        meta = envelope.metadata
        event_id = meta.event_id
        # Scoped as the gateway scopes idempotency: ids are unique per sender, not globally.
        seen_key = (meta.campaign_id, meta.user_id or "", event_id)
        if seen_key in self._seen:
            self._stats.duplicates += 1
            self._metrics.duplicates.labels(self._name).inc()
            self._log.debug("skipping duplicate %s %s", envelope.type, event_id)
            return "duplicate"
        handler = self._handlers.get(envelope.type)
        if handler is None:
            # Not poison: the domain topic carries types other services of the domain handle.
            self._stats.unhandled += 1
            self._metrics.unhandled.labels(self._name, envelope.type).inc()
            if envelope.type not in self._unhandled_types:
                # Said once per type: usual where several services share a domain, but the
                # one trace of a same-named service (one consumer group) whose instances
                # handle different types: each skips, and commits, the others' records.
                self._unhandled_types.add(envelope.type)
                self._log.info(
                    "no handler for %s: skipped and committed (counted in "
                    "nexus_service_unhandled_total; said once per type)",
                    envelope.type,
                )
            self._log.debug("no handler for %s at %s", envelope.type, origin)
            return "unhandled"
        context = Context(
            event=envelope,
            origin=origin,
            service=self._name,
            publisher=self._publisher,
            log=self._log,
            tracer=self._tracer,
        )
        # The producer's clock (CreateTime) or the broker's (LogAppendTime): a producer's
        # clock ahead of this one must not make a negative wait.
        if record.timestamp > 0:  # none is -1
            waited = max(0.0, time.time() - record.timestamp / 1000)
            self._metrics.record_age.labels(self._name, envelope.type).observe(waited)
        outcome = "handled"
        try:
            await self._call(handler, envelope, context, current)
        except RecordAbandoned:
            raise
        except Exception as exc:
            # Timed before the dead letter is written: the handler's time, as for a success.
            # A failing handler is the one an operator most needs to see the time of.
            timed_out = isinstance(exc, HandlerTimeoutError)
            self._observe(envelope, began, TIMED_OUT if timed_out else FAILED)
            record_error(trace.get_current_span(), exc)
            await self._answer_failure(context, timed_out=timed_out)
            await self._dead_letter(record, exc, reason=DLQ_HANDLER)
            outcome = "dead_lettered"
        else:
            self._observe(envelope, began, HANDLED)
            self._stats.handled += 1
            self._metrics.handled.labels(self._name, envelope.type).inc()
        # Dead-lettered counts as dealt with: a second copy would only repeat the failure.
        self._seen.add(seen_key)
        return outcome

    def _observe(self, envelope: Envelope, began: float, outcome: str) -> None:
        self._metrics.handle_seconds.labels(self._name, envelope.type, outcome).observe(
            time.perf_counter() - began
        )

    async def _answer_failure(self, context: Context, *, timed_out: bool) -> None:
        failure = self._failure_replies.get(context.event.type)
        if failure is None or context.replied:
            return
        what = "did not finish in time" if timed_out else "failed"
        try:
            await context.reply(
                failure,
                {
                    "code": FAILURE_CODE,
                    # Not "resend it": a resend under the same event_id is a duplicate, acked
                    # and never handled again.
                    "message": f"the {self._name} service {what}; to try again, send a new "
                    "request (a new event_id)",
                },
            )
        except Exception as exc:
            # The dead letter still keeps the request; the client gets the flow's timeout.
            self._log.warning(
                "could not send %s for %s %s: %s",
                failure,
                context.event.type,
                context.event.metadata.event_id,
                exc,
            )

    def _retriable(self, exc: Exception) -> bool:
        return bool(getattr(exc, "retriable", False)) or isinstance(exc, self._config.retry_on)

    async def _call(
        self, handler: Handler, envelope: Envelope, context: Context, current: Current
    ) -> None:
        config = self._config
        attempt = failures = 0
        while True:
            try:
                async with asyncio.timeout(config.handler_timeout_s) as deadline:
                    context._begin_attempt(deadline)
                    try:
                        await handler(envelope, context)
                    finally:
                        context._end_attempt()
                return
            except asyncio.CancelledError as exc:
                if _cancelled_from_outside():
                    raise  # a stop or a rebalance cancelling the handling itself
                # Raised by the handler, not sent to it (a task it awaited was cancelled):
                # its failure, dead-lettered as any other.
                raise HandlerCancelledError(
                    f"{envelope.type} handler raised CancelledError without being cancelled"
                ) from exc
            except Exception as exc:
                if _cancelled_from_outside():
                    # A stop or a rebalance cancelled the handling, and the handler turned
                    # that into an error of its own: still a cancellation, not a failure of
                    # the record (which goes to the partition's next reader, not the DLQ).
                    raise asyncio.CancelledError from exc
                if isinstance(exc, TimeoutError) and deadline.expired():
                    raise HandlerTimeoutError(
                        f"{envelope.type} handler ran past handler_timeout_s "
                        f"({config.handler_timeout_s:g} s) and was cancelled"
                    ) from exc
                if isinstance(exc, KafkaUnavailableError):
                    # Not the request's fault, and not counted against its attempts.
                    failures += 1
                    progress, nth = f"Kafka unavailable, try {failures}", failures
                else:
                    attempt += 1
                    if attempt >= config.retry_attempts or not self._retriable(exc):
                        raise
                    progress, nth = f"attempt {attempt} of {config.retry_attempts}", attempt
                await self._retry(envelope, exc, progress, nth, current)

    async def _retry(
        self, envelope: Envelope, exc: Exception, progress: str, nth: int, current: Current
    ) -> None:
        delay = retry_delay(self._config, nth)
        self._metrics.retries.labels(self._name).inc()
        # Masked as logs and the span's exception event are: trace stores are often read by
        # more people than logs.
        trace.get_current_span().add_event(
            "retry",
            {
                "attempt": nth,
                "exception.type": type(exc).__qualname__,
                "exception.message": redact(str(exc))[:256],
            },
        )
        self._log.warning(
            "%s %s failed (%s), retrying in %.2f s: %s",
            envelope.type,
            envelope.metadata.event_id,
            progress,
            delay,
            exc,
        )
        _abandon_unless(current, envelope)
        await asyncio.sleep(delay)
        _abandon_unless(current, envelope)

    async def _dead_letter(self, record: Record, error: BaseException, *, reason: str) -> None:
        self._log.warning(
            "dead-lettering %s-%s@%s: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            error,
            # A handler's fault: its author needs the traceback, which otherwise lives only
            # in a span that may never be exported (no collector on a laptop).
            exc_info=error if reason == DLQ_HANDLER else None,
        )
        failed = FailedRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        await self._dead_letters.write(failed, error)
        self._stats.dead_lettered += 1
        self._metrics.dead_letters.labels(self._name, reason).inc()
