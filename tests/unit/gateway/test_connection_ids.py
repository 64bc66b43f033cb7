"""Connection ids name their owner, so any pod can refuse an id that was someone else's."""

from __future__ import annotations

from nexus_gateway.protocol import new_connection_id, owns_connection_id


def test_an_id_is_owned_by_the_campaign_and_user_it_was_made_for() -> None:
    made = new_connection_id("A", "alice")
    assert owns_connection_id(made, "A", "alice")
    assert not owns_connection_id(made, "A", "bob")
    assert not owns_connection_id(made, "B", "alice")
    assert made != new_connection_id("A", "alice"), "each connection gets its own"


def test_only_the_exact_format_is_accepted() -> None:
    """The id reaches frames, Kafka headers and log lines: nothing but its own 32 hex
    characters may ride on a valid owner tag."""
    made = new_connection_id("A", "alice")
    tag = made[:12]
    for forged in (
        tag + "x\n{}" + "0" * 15,
        tag + "0" * 19,
        tag + "0" * 21,
        made.upper(),
        tag + "g" * 20,
    ):
        assert not owns_connection_id(forged, "A", "alice"), forged
