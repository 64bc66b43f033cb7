"""Which records read from Kafka a gateway hands to clients, by the shipped manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_gateway.record_rules import misplaced
from nexus_mesh.envelope import BROADCAST_CAMPAIGN, Envelope, Metadata
from nexus_mesh.registry import Registry, load_registry

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(SCHEMAS)


def envelope(type_: str, campaign_id: str = "acme", **metadata: str) -> Envelope:
    # The rules read the type and the addressing only: any payload object will do.
    return Envelope(
        type=type_,
        payload={},
        metadata=Metadata(event_id="e1", campaign_id=campaign_id, source="s", time=1, **metadata),
    )


@pytest.mark.parametrize(
    ("type_", "system"),
    [
        ("campaign.updated", False),
        ("search.completed", False),
        ("search.timeout", False),  # the gateway's own, but a clients type all the same
        ("system.notice", True),
    ],
)
def test_types_the_manifest_sends_on_the_topic_are_delivered(
    registry: Registry, type_: str, system: bool
) -> None:
    campaign = BROADCAST_CAMPAIGN if system else "acme"
    assert misplaced(registry, envelope(type_, campaign), system=system) is None


@pytest.mark.parametrize(
    ("type_", "system", "said"),
    [
        ("nexus.ack", False, "type nexus.ack is not sent on clients (the manifest gives it no "),
        ("nexus.welcome", True, "type nexus.welcome is not sent on system"),
        ("search.requested", False, "(the manifest gives it topic search)"),
        ("system.notice", False, "type system.notice is not sent on clients"),
        ("chat.message", True, "type chat.message is not sent on system"),
    ],
)
def test_a_type_on_a_topic_the_manifest_does_not_send_it_on_is_refused(
    registry: Registry, type_: str, system: bool, said: str
) -> None:
    campaign = BROADCAST_CAMPAIGN if system else "acme"
    refusal = misplaced(registry, envelope(type_, campaign), system=system)
    assert refusal is not None
    assert said in refusal.why % refusal.args


@pytest.mark.parametrize(
    "addressing",
    [
        {"campaign_id": "acme"},
        {"campaign_id": BROADCAST_CAMPAIGN, "user_id": "alice"},
        {"campaign_id": BROADCAST_CAMPAIGN, "connection_id": "c1"},
    ],
)
def test_a_broadcast_addressed_to_anyone_in_particular_is_refused(
    registry: Registry, addressing: dict[str, str]
) -> None:
    """Everything on the system topic reaches every connection of every campaign."""
    refusal = misplaced(registry, envelope("system.notice", **addressing), system=True)
    assert refusal is not None
    assert "must name campaign '*' and no user or connection" in refusal.why % refusal.args
