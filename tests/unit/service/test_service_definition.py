"""Declaring a service: names, handlers and dead-letter headers, without a broker."""

from __future__ import annotations

import pytest

from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import ConfigurationError, KafkaUnavailableError
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.service.dlq import FailedRecord, dead_letter_headers


def test_defaults_and_group_id() -> None:
    service = Service(name="search")
    assert service.domain == "search"
    assert service.group_id == "nexus.search"
    custom = Service(name="search", config=ServiceConfig(group_id="team.search"))
    assert custom.group_id == "team.search"


def test_handler_registration() -> None:
    service = Service(name="multi", domain="search")

    @service.handler("search.requested", "search.other")
    async def handle(event: Envelope, ctx: Context) -> None:
        """Registered for two types."""

    assert set(service.handlers) == {"search.requested", "search.other"}
    with pytest.raises(ConfigurationError, match="already has a handler"):
        service.handler("search.requested")
    with pytest.raises(ConfigurationError, match="not an event type"):
        service.handler("Search")
    with pytest.raises(TypeError, match="async def"):
        service.handler("search.third")(lambda event, ctx: None)  # type: ignore[arg-type,return-value]

    class Handlers:
        """A handler with state of its own: an object whose ``__call__`` is async."""

        async def __call__(self, event: Envelope, ctx: Context) -> None:
            """Takes the event."""

    instance = Handlers()
    assert service.handler("search.third")(instance) is instance
    assert service.handlers["search.third"] is instance


@pytest.mark.parametrize("name", ["", "Search", "with space", "1st"])
def test_bad_service_names(name: str) -> None:
    with pytest.raises(ConfigurationError, match="service name"):
        Service(name=name)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="max_records"):
        ServiceConfig(max_records=0)
    for field, value in [
        ("dedupe_max_entries", 0),
        ("dedupe_ttl_s", 0.0),
        ("stop_timeout_s", -1.0),
        ("send_timeout_s", 0.0),
    ]:
        with pytest.raises(ConfigurationError, match=field):
            ServiceConfig(**{field: value})
    with pytest.raises(TypeError):
        ServiceConfig(10)  # type: ignore[misc]


def test_dead_letter_headers_keep_the_original_and_add_the_error() -> None:
    record = FailedRecord(
        topic="p.search",
        partition=1,
        offset=41,
        key=b"camp",
        value=b"v",
        headers=[("ce_id", b"e1")],
    )
    headers = dict(dead_letter_headers(record, KafkaUnavailableError("x" * 5000), service="search"))
    assert headers["ce_id"] == b"e1"
    assert headers["nexus-error-type"] == b"nexus_mesh.errors.KafkaUnavailableError"
    assert len(headers["nexus-error"].decode()) == 2000
    assert headers["nexus-original-topic"] == b"p.search"
    assert headers["nexus-original-partition"] == b"1"
    assert headers["nexus-original-offset"] == b"41"
    assert headers["nexus-service"] == b"search"


def test_retries_back_off_to_a_cap_however_long_kafka_is_away() -> None:
    """Kafka being away is retried without limit: the thousandth retry still waits the cap,
    instead of overflowing and dead-lettering every request in flight."""
    from nexus_mesh.service.handling import retry_delay

    config = ServiceConfig(retry_backoff_s=0.2, max_backoff_s=5.0)
    assert [retry_delay(config, n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert retry_delay(config, 5000) == 5.0
    # A first delay above the cap is kept, not cut (a config written before the cap existed).
    assert retry_delay(ServiceConfig(retry_backoff_s=10.0), 1) == 10.0
    with pytest.raises(ConfigurationError, match="retry_on must be a tuple of exception classes"):
        ServiceConfig(retry_on=[ConnectionError])  # type: ignore[arg-type]
    # Still a ValueError, for code written before ServiceConfig raised ConfigurationError.
    with pytest.raises(ValueError, match="max_ahead"):
        ServiceConfig(max_ahead=0)
