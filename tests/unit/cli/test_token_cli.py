"""``nexus token``: prints only a token the gateway accepts, and fails clearly without a key."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import nexus_mesh.cli as cli
from nexus_gateway.auth import Authenticator
from nexus_mesh.cli import token as token_cli
from nexus_mesh.settings import NexusSettings

SECRET = "cli-test-secret-long-enough-for-hs256-signing"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NEXUS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def only_token_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # Exercise the real `nexus` entry point without depending on the other command modules.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("token",))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nexus")
    token_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["token", *argv])


def accepted(tok: str, campaign: str, user: str = "alice", **settings: object) -> bool:
    auth = Authenticator(NexusSettings(**settings))  # type: ignore[arg-type]
    principal = auth.authenticate(
        campaign_id=campaign,
        user_id=user,
        headers={"Authorization": f"Bearer {tok}"},
        query={},
    )
    return principal.allows(campaign)


def test_prints_only_the_token(
    only_token_command: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEXUS_JWT_SECRET", SECRET)
    assert cli.main(["token", "--user", "alice", "--campaign", "demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    tok = out.strip()
    assert accepted(tok, "demo", jwt_secret=SECRET)
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"])
    assert claims["campaigns"] == ["demo"]
    assert claims["exp"] - claims["iat"] == 3600


def test_without_a_secret_exits_2(
    only_token_command: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--user", "alice"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "NEXUS_JWT_SECRET" in captured.err


def test_short_secret_exits_2_without_echoing_it(
    only_token_command: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--user", "alice", "--secret", "hunter2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "hunter2" not in captured.err


def test_defaults_to_every_campaign_and_honours_flags() -> None:
    settings = NexusSettings(jwt_audience="nexus", jwt_issuer="dev")
    tok = token_cli.make_token(parse("--user", "bob", "--secret", SECRET, "--ttl", "60"), settings)
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"], audience="nexus", issuer="dev")
    assert claims["sub"] == "bob"
    assert claims["campaigns"] == ["*"]
    assert claims["exp"] - claims["iat"] == 60


def test_several_campaigns() -> None:
    tok = token_cli.make_token(
        parse("--user", "alice", "--campaign", "a", "--campaign", "b", "--secret", SECRET),
        NexusSettings(),
    )
    assert jwt.decode(tok, SECRET, algorithms=["HS256"])["campaigns"] == ["a", "b"]


def test_private_key_file(tmp_path: Path) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "signing.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    tok = token_cli.make_token(
        parse("--user", "alice", "--campaign", "demo", "--private-key", str(path)),
        NexusSettings(),
    )
    assert jwt.get_unverified_header(tok)["alg"] == "ES256"
    assert accepted(tok, "demo", jwt_public_key=public, jwt_algorithms=("ES256",))


@pytest.mark.parametrize(
    "argv",
    [
        ("--ttl", "0"),
        ("--ttl", "soon"),
        ("--secret", SECRET, "--private-key", "k.pem"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse("--user", "alice", *argv)
    assert caught.value.code == 2


def test_missing_private_key_file(tmp_path: Path) -> None:
    from nexus_mesh.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--private-key"):
        token_cli.make_token(
            parse("--user", "alice", "--private-key", str(tmp_path / "absent.pem")),
            NexusSettings(),
        )


def test_asymmetric_algorithm_without_private_key() -> None:
    from nexus_mesh.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--private-key"):
        token_cli.make_token(
            parse("--user", "alice", "--algorithm", "RS256", "--secret", SECRET),
            NexusSettings(),
        )
