"""A service author unit-tests a handler without a broker, through the real publishing path.

``nexus_mesh.service.testing`` is part of the product (authors import it); its ``Outbox``
stands where the Kafka producer would, and that is the one thing not real here: everything
a handler's send goes through before the producer (validation, the manifest's rules, the
reply's addressing and ids) is the service's own code.
"""

from __future__ import annotations

import pytest

from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import ConfigurationError, PayloadInvalidError
from nexus_mesh.service import Context, Service
from nexus_mesh.service.testing import handle


def echo_service() -> Service:
    service = Service(name="echo", domain="search")

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        query = event.payload["query"]
        if query == "bad reply":
            await ctx.reply("search.completed", {"query": query, "hits": "none"})
        if query == "gateway's":
            await ctx.reply("search.timeout", {"timeout_ms": 1})
        await ctx.reply("search.completed", {"query": query.upper(), "hits": []})

    return service


async def test_what_a_handler_sends_is_returned_addressed_as_a_reply() -> None:
    sent = await handle(
        echo_service(), "search.requested", {"query": "kafka"}, user_id="alice", campaign_id="c"
    )
    (reply,) = sent
    assert reply.type == "search.completed"
    assert reply.payload == {"query": "KAFKA", "hits": []}
    assert reply.topic == "nexus.clients"
    meta = reply.envelope.metadata
    assert (meta.campaign_id, meta.user_id, meta.connection_id) == ("c", "alice", "connection-1")
    assert meta.source == "echo"


async def test_the_service_s_rules_hold_as_in_production() -> None:
    # The reply named: a dead letter's log line must not read as the request's fault.
    with pytest.raises(
        PayloadInvalidError, match=r"^search\.completed to publish: payload\.hits: expected array"
    ):
        await handle(echo_service(), "search.requested", {"query": "bad reply"})
    with pytest.raises(ConfigurationError, match=r"search\.timeout is sent by gateway only"):
        await handle(echo_service(), "search.requested", {"query": "gateway's"})
    with pytest.raises(PayloadInvalidError, match=r"payload\.query: required field missing"):
        await handle(echo_service(), "search.requested", {})
    with pytest.raises(ConfigurationError, match=r"no handler for search\.completed"):
        await handle(echo_service(), "search.completed", {"query": "q", "hits": []})
