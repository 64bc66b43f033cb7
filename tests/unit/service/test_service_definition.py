"""Declaring a service: names, handlers and dead-letter headers, without a broker."""

from __future__ import annotations

import pytest

from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import KafkaUnavailableError
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
    with pytest.raises(ValueError, match="already has a handler"):
        service.handler("search.requested")
    with pytest.raises(ValueError, match="not an event type"):
        service.handler("Search")
    with pytest.raises(TypeError, match="async def"):
        service.handler("search.third")(lambda event, ctx: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("name", ["", "Search", "with space", "1st"])
def test_bad_service_names(name: str) -> None:
    with pytest.raises(ValueError, match="service name"):
        Service(name=name)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="max_records"):
        ServiceConfig(max_records=0)
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
