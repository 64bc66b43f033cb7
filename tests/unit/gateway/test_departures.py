"""Which dropped connection a resume that gives only its position takes back."""

from __future__ import annotations

from typing import Any

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.departures import RecentDepartures
from nexus_gateway.hub import ConnectionHub
from nexus_testkit import ManualClock


def test_the_one_connection_that_left_is_the_one_resumed() -> None:
    clock = ManualClock()
    departures = RecentDepartures(memory_s=600, clock=clock)
    assert departures.sole("A", "alice") is None
    departures.left("A", "alice", "c1")
    assert departures.sole("A", "alice") == "c1"
    assert departures.sole("A", "bob") is None, "another user's is not yours"
    assert departures.sole("B", "alice") is None, "nor another campaign's"
    clock.now += 601
    assert departures.sole("A", "alice") is None, "forgotten after the memory"
    assert len(departures) == 0


def test_two_that_left_are_ambiguous_until_one_is_back() -> None:
    clock = ManualClock()
    departures = RecentDepartures(memory_s=600, clock=clock)
    departures.left("A", "alice", "c1")
    clock.now += 10
    departures.left("A", "alice", "c2")
    assert departures.sole("A", "alice") is None, "two tabs dropped: which one is this?"
    departures.returned("A", "alice", "c1")
    assert departures.sole("A", "alice") == "c2"
    clock.now += 595
    assert departures.sole("A", "alice") == "c2", "each is remembered from its own departure"


def test_users_who_left_long_ago_are_forgotten_as_others_leave() -> None:
    """Without a resume asking about them: a pod with many short visits must not keep them."""
    clock = ManualClock()
    departures = RecentDepartures(memory_s=600, clock=clock)
    for n in range(50):
        departures.left("A", f"u{n}", f"c{n}")
    clock.now += 601
    departures.left("A", "late", "c-late")
    assert len(departures) == 1


def test_one_user_connecting_and_leaving_in_a_loop_holds_two_ids() -> None:
    """Two ids decide between "exactly one" and "ambiguous": a client reconnecting in a loop
    must not grow the memory with every connection."""
    clock = ManualClock()
    departures = RecentDepartures(memory_s=600, clock=clock)
    for n in range(1000):
        departures.left("A", "alice", f"c{n}")
    assert departures.held == 2
    assert departures.sole("A", "alice") is None
    clock.now += 601
    departures.left("A", "alice", "last")
    assert departures.sole("A", "alice") == "last", "the older ones expired with the kept one"


def test_the_memory_is_bounded_by_users_oldest_first() -> None:
    departures = RecentDepartures(max_users=2, clock=ManualClock())
    departures.left("A", "u1", "c1")
    departures.left("A", "u2", "c2")
    departures.left("A", "u1", "c3")  # u1 left again: now the most recent
    departures.left("A", "u3", "c4")
    assert len(departures) == 2
    assert departures.sole("A", "u2") is None
    assert departures.sole("A", "u3") == "c4"


def test_the_hub_records_every_departure_and_return() -> None:
    hub = ConnectionHub()
    ws: Any = None  # nothing here reaches a socket
    first = Connection(
        identity=Identity(connection_id="c1", campaign_id="A", user_id="alice"),
        ws=ws,
        max_buffer_bytes=1024,
    )
    hub.add(first)
    assert hub.departures.sole("A", "alice") is None, "still here"
    hub.remove(first)
    assert hub.departures.sole("A", "alice") == "c1"
    back = Connection(identity=first.identity, ws=ws, max_buffer_bytes=1024)
    hub.add(back)
    assert hub.departures.sole("A", "alice") is None, "resumed: no longer gone"
