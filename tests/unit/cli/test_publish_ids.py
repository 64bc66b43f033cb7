"""``nexus publish`` refuses a campaign, user or connection id no gateway connection can have:
written anyway, the event would reach nobody."""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytest

import nexus_mesh.cli as cli
from nexus_gateway.protocol import new_connection_id
from nexus_mesh.cli import publish as publish_cli
from nexus_mesh.service.publisher import Published

PAYLOAD = ("--payload", '{"query": "x"}')
PATH_RULE = (
    "use 1 to 128 letters, digits, '.', '_', ':', '@' or '-' (as the gateway accepts ids in "
    "/ws/{campaign_id}/{user_id})"
)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None, str | None]]:
    """The (campaign, user, connection) of each event the command hands to Kafka."""
    for name in list(os.environ):
        if name.startswith("NEXUS_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("publish",))
    calls: list[tuple[str, str | None, str | None]] = []

    async def send(args: argparse.Namespace, event_id: str, campaign: str, *_: Any) -> Published:
        calls.append((campaign, args.user, args.connection))
        return Published(event_id=event_id, topic="nexus.search", partition=0, offset=0)

    monkeypatch.setattr(publish_cli, "_send", send)
    return calls


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--campaign", "bad campaign!"], f"--campaign 'bad campaign!': {PATH_RULE}"),
        (["--campaign", "c" * 129], f"--campaign {'c' * 129!r}: {PATH_RULE}"),
        (["--campaign", "c1", "--user", "bob/alice"], f"--user 'bob/alice': {PATH_RULE}"),
        (["--campaign", "c1", "--user", ""], f"--user '': {PATH_RULE}"),
        (
            ["--campaign", "c1", "--connection", "conn-1"],
            "--connection 'conn-1': not a connection id (32 lowercase hex digits, as the "
            "gateway gives them in nexus.welcome)",
        ),
        (
            ["--campaign", "c1", "--connection", new_connection_id("c1", "bob").upper()],
            "not a connection id",
        ),
        (
            ["--campaign", "c1", "--user", "alice", "--connection", new_connection_id("c1", "bob")],
            "is not a connection of user 'alice' in campaign 'c1'",
        ),
        (
            ["--campaign", "c2", "--user", "bob", "--connection", new_connection_id("c1", "bob")],
            "is not a connection of user 'bob' in campaign 'c2'",
        ),
    ],
)
def test_an_id_the_gateway_refuses_is_refused_before_anything_is_sent(
    sent: list[tuple[str, str | None, str | None]],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert cli.main(["publish", "search.requested", *argv, *PAYLOAD]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("nexus publish: ")
    assert message in err
    assert "retry" not in err, "nothing was sent: no retry to offer"
    assert sent == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--campaign", "camp-9.a:b@c_d"],
        ["--campaign", "c" * 128, "--user", "u" * 128],
        ["--campaign", "c1", "--user", "bob@example.com"],
        # Without a user, whose connection it is cannot be told from the id.
        ["--campaign", "c1", "--connection", new_connection_id("c1", "bob")],
        ["--campaign", "c1", "--user", "bob", "--connection", new_connection_id("c1", "bob")],
    ],
)
def test_ids_a_connection_can_have_are_sent(
    sent: list[tuple[str, str | None, str | None]],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    assert cli.main(["publish", "search.requested", *argv, *PAYLOAD]) == 0, capsys.readouterr()
    assert len(sent) == 1


def test_a_broadcast_needs_no_campaign_id(
    sent: list[tuple[str, str | None, str | None]], capsys: pytest.CaptureFixture[str]
) -> None:
    # Its campaign is "*", which no WebSocket path can name.
    argv = ["publish", "system.notice", "--broadcast", "--payload", '{"text": "hi"}']
    assert cli.main(argv) == 0, capsys.readouterr()
    assert sent == [("*", None, None)]


@pytest.mark.parametrize(
    "addressed", [["--campaign", "c1"], ["--user", "bob"], ["--connection", "0" * 32]]
)
def test_a_broadcast_to_anyone_in_particular_is_refused(
    sent: list[tuple[str, str | None, str | None]],
    capsys: pytest.CaptureFixture[str],
    addressed: list[str],
) -> None:
    """Gateways skip a broadcast that names a campaign, user or connection (it would reach
    every tenant): published, it exited 0 and reached nobody."""
    argv = ["publish", "system.notice", "--broadcast", *addressed, "--payload", '{"text": "x"}']
    assert cli.main(argv) == 2
    assert "--broadcast goes to every connection" in capsys.readouterr().err
    assert sent == []
