"""Routing (DESIGN.md section 6) over the connections of one gateway."""

from __future__ import annotations

from typing import Any

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.hub import ConnectionHub


def conn(connection_id: str, campaign: str, user: str) -> Connection:
    ws: Any = None  # routing never touches the socket
    return Connection(
        identity=Identity(connection_id=connection_id, campaign_id=campaign, user_id=user),
        ws=ws,
        max_buffer_bytes=1024,
    )


def test_routing_rules() -> None:
    hub = ConnectionHub()
    a1, a1b, a2, b1 = (
        conn("a1", "A", "u1"),
        conn("a1b", "A", "u1"),
        conn("a2", "A", "u2"),
        conn("b1", "B", "u1"),
    )
    for c in (a1, a1b, a2, b1):
        hub.add(c)
    assert hub.targets(campaign_id="A", user_id=None, connection_id="a1b") == [a1b]
    assert set(hub.targets(campaign_id="A", user_id="u1", connection_id=None)) == {a1, a1b}
    assert set(hub.targets(campaign_id="A", user_id=None, connection_id=None)) == {a1, a1b, a2}
    # A connection never receives another campaign's event, even when named explicitly.
    assert hub.targets(campaign_id="A", user_id=None, connection_id="b1") == []
    assert hub.targets(campaign_id="C", user_id=None, connection_id=None) == []


def test_a_users_second_connection_does_not_evict_the_first() -> None:
    hub = ConnectionHub()
    first, second = conn("c1", "A", "u1"), conn("c2", "A", "u1")
    hub.add(first)
    hub.add(second)
    assert hub.remove(second) is False, "campaign still has a connection"
    assert hub.targets(campaign_id="A", user_id="u1", connection_id=None) == [first]
    assert hub.remove(first) is True
    assert hub.campaign_count == 0
    assert len(hub) == 0


def test_a_connection_id_is_not_enough_to_receive_another_users_event() -> None:
    hub = ConnectionHub()
    mallory = conn("c1", "A", "mallory")
    hub.add(mallory)
    assert hub.targets(campaign_id="A", user_id="alice", connection_id="c1") == []
    assert hub.targets(campaign_id="A", user_id=None, connection_id="c1") == [mallory]
    assert hub.targets(campaign_id="A", user_id="mallory", connection_id="c1") == [mallory]
