"""Tunables of a service, with defaults that suit most; every field is keyword-only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nexus_mesh.errors import ConfigurationError


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceConfig:
    """How a service consumes, retries, deduplicates and stops.

    An instance keeps fetching while its handlers run, so a slow handler never costs the
    instance its place in the group, and holds back its own campaign; the other campaigns of
    its partition go on until ``max_records`` records wait there (the slow campaign's
    backlog counts) or records ``max_ahead`` offsets past it would start, and then wait for
    it too. ``handler_timeout_s`` bounds how long that lasts.
    """

    group_id: str | None = None
    """Consumer group; ``<topic prefix>.<service name>`` when None. Instances sharing it
    share work."""

    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a group with no committed offset starts (a new service, a renamed group, or one
    whose commits expired after ``offsets.retention.minutes``, 7 days by default): every
    record the domain topic still holds (``earliest``: nothing sent before the first start is
    missed, but a new service on an old topic handles its whole retention, replying to
    requests long timed out), or only what is written after it joined (``latest``). A group
    with commits always resumes after them."""

    max_concurrency: int = 16
    """Records one instance handles at once, over all its partitions. One campaign's records
    are always handled one after another, in their partition's order; different campaigns'
    at once, even within one partition. 1 handles one record at a time."""

    max_ahead: int = 1000
    """How far past a partition's oldest record not yet dealt with (a slow or stuck
    handler's) a record may start, in offsets (records, and the markers of transactions). None
    of those records can be committed until the oldest is, so an instance that dies
    meanwhile hands them all to the next owner, to handle again; past the limit the partition
    starts nothing more until the oldest is dealt with, and says so in the log."""

    max_records: int = 100
    """Records fetched ahead per partition: fetching from a partition pauses while this many
    of its records wait to start, and resumes once half of them started. Also the most one
    fetch returns."""

    poll_timeout_ms: int = 500
    handler_timeout_s: float | None = 30.0
    """A handler running longer is cancelled (a :class:`~nexus_mesh.errors.HandlerTimeoutError`)
    and its record dead-lettered. Its sends' waits for Kafka do not count: each is bounded by
    ``send_timeout_s``, and a send Kafka did not take in time is retried as an outage."""

    retry_attempts: int = 3
    """Attempts for a handler that raises a retriable error (see ``retry_on``) before its
    record is dead-lettered."""

    retry_on: tuple[type[Exception], ...] = ()
    """Exception classes that mean "try again" besides those with a true ``retriable`` (the
    mesh's own, :class:`~nexus_mesh.errors.RetriableError`): a third-party client's dropped
    connection, say. Kafka being unavailable is always retried, and without a limit: the
    request waits for the broker instead of being dead-lettered by an outage."""

    retry_backoff_s: float = 0.2
    """The first retry's delay; each next one doubles it, up to ``max_backoff_s`` (or
    ``retry_backoff_s`` itself, if that is larger)."""

    max_backoff_s: float = 5.0
    dedupe_max_entries: int = 100_000
    dedupe_ttl_s: float = 3600.0
    stop_timeout_s: float = 10.0
    """How long a stop, or a rebalance taking partitions away, waits for the records in hand;
    handlers still running then are cancelled (and waited for 5 s more), their records left
    to the partition's next reader. The whole group waits for a rebalance meanwhile."""
    send_timeout_s: float = 10.0
    """How long one write (a reply, an event, a dead letter) or a commit waits for Kafka; a
    write not taken by then is retried, the request still in hand."""
    lag_interval_s: float = 5.0
    """How often the end offsets of the assigned partitions are read for
    ``nexus_service_consumer_lag``, so the lag keeps growing while a handler is stuck (a
    scrape never waits for Kafka; it reports the last reading)."""

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if self.max_ahead < 1:
            raise ConfigurationError("max_ahead must be at least 1")
        if self.max_records < 1:
            raise ConfigurationError("max_records must be at least 1")
        if self.poll_timeout_ms < 0:
            raise ConfigurationError("poll_timeout_ms must not be negative")
        if self.retry_attempts < 1:
            raise ConfigurationError("retry_attempts must be at least 1")
        if self.handler_timeout_s is not None and self.handler_timeout_s <= 0:
            raise ConfigurationError("handler_timeout_s must be positive (or None for no limit)")
        if self.retry_backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigurationError("retry_backoff_s and max_backoff_s must not be negative")
        if not isinstance(self.retry_on, tuple) or not all(
            isinstance(kind, type) and issubclass(kind, Exception) for kind in self.retry_on
        ):
            raise ConfigurationError("retry_on must be a tuple of exception classes")
        if self.start_from not in ("earliest", "latest"):
            raise ConfigurationError("start_from must be 'earliest' or 'latest'")
        if self.lag_interval_s <= 0:
            raise ConfigurationError("lag_interval_s must be positive")
        if self.dedupe_max_entries < 1:
            raise ConfigurationError("dedupe_max_entries must be at least 1")
        if self.dedupe_ttl_s <= 0:
            raise ConfigurationError("dedupe_ttl_s must be positive")
        if self.stop_timeout_s < 0:
            raise ConfigurationError("stop_timeout_s must not be negative")
        if self.send_timeout_s <= 0:
            raise ConfigurationError("send_timeout_s must be positive")
