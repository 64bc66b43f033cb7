"""Configuration fails at start, naming the variable to fix."""

from __future__ import annotations

import os
import socket

import pytest

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.settings import load_settings


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEXUS_KAFKA_BOOTSTRAP_SERVERS", "NEXUS_TOPIC_PREFIX", "NEXUS_GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topic_prefix == "nexus"
    assert (settings.gateway_host, settings.gateway_port) == ("0.0.0.0", 8080)
    assert settings.auth == "jwt"
    assert (settings.schemas_dir / "manifest.json").is_file()


def test_two_gateways_on_one_machine_have_names_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside Kubernetes (where the chart names each gateway after its pod), a second
    gateway on the machine must not share the first's event source and trace resource."""
    monkeypatch.delenv("NEXUS_GATEWAY_INSTANCE", raising=False)
    assert load_settings().gateway_instance == f"{socket.gethostname()}-{os.getpid()}"
    monkeypatch.setenv("NEXUS_GATEWAY_INSTANCE", "nexus-gateway-7d9f-abcde")
    assert load_settings().gateway_instance == "nexus-gateway-7d9f-abcde"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9001, 127.0.0.1:9002")
    monkeypatch.setenv("NEXUS_TOPIC_PREFIX", "mesh-a")
    settings = load_settings()
    assert settings.bootstrap_list == ["127.0.0.1:9001", "127.0.0.1:9002"]
    assert settings.topic_prefix == "mesh-a"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEXUS_GATEWAY_PORT", "eighty", "NEXUS_GATEWAY_PORT='eighty'"),
        ("NEXUS_GATEWAY_PORT", "70000", "NEXUS_GATEWAY_PORT"),
        ("NEXUS_TOPIC_PREFIX", "bad prefix!", "NEXUS_TOPIC_PREFIX"),
        ("NEXUS_KAFKA_BOOTSTRAP_SERVERS", "localhost", "NEXUS_KAFKA_BOOTSTRAP_SERVERS"),
        ("NEXUS_AUTH", "maybe", "NEXUS_AUTH"),
        ("NEXUS_OTLP_PIPELINE", "rust", "NEXUS_OTLP_PIPELINE='rust'"),
        ("NEXUS_CLIENTS_RETENTION_MS", "1000", "NEXUS_CLIENTS_RETENTION_MS"),
        # A list setting written without JSON fails before validation: still named.
        ("NEXUS_JWT_ALGORITHMS", "HS256", "NEXUS_JWT_ALGORITHMS: not valid JSON"),
        (
            "NEXUS_GATEWAY_ALLOWED_ORIGINS",
            '["https://app.example/path"]',
            "'https://app.example/path' is not an origin",
        ),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["app.example"]', "is not an origin"),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["https://*.example.com"]', "is not an origin"),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["https://app.example:443"]', "is not an origin"),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["https://app.example?x=1"]', "is not an origin"),
        ("NEXUS_GATEWAY_ADMIN_TOKEN", "has a space in the middle!", "without spaces"),
        ("NEXUS_GATEWAY_ADMIN_TOKEN", "pässwörd-0123456789€", "printable ASCII"),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["http://h.example:00080"]', "is not an origin"),
        ("NEXUS_GATEWAY_ALLOWED_ORIGINS", '["https://h.example:99999"]', "is not an origin"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert expected in str(caught.value)


def test_inconsistent_replication_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_TOPIC_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("NEXUS_TOPIC_MIN_INSYNC_REPLICAS", "2")
    with pytest.raises(ConfigurationError, match="NEXUS_TOPIC_MIN_INSYNC_REPLICAS"):
        load_settings()


def test_a_short_admin_token_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXUS_GATEWAY_ADMIN_TOKEN", "hunter2")
    with pytest.raises(ConfigurationError, match="NEXUS_GATEWAY_ADMIN_TOKEN") as caught:
        load_settings()
    assert "at least 16 characters" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_secret_values_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEXUS_KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "NEXUS_KAFKA_SASL_MECHANISM" in str(caught.value)
    assert "hunter2-very-secret" not in str(caught.value)


def test_an_admin_token_read_from_a_file_loses_its_newline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXUS_GATEWAY_ADMIN_TOKEN", "abcdefghijklmnopqrstuvwxyz\n")
    token = load_settings().gateway_admin_token
    assert token is not None and token.get_secret_value() == "abcdefghijklmnopqrstuvwxyz"
    monkeypatch.setenv(
        "NEXUS_GATEWAY_ALLOWED_ORIGINS", '["https://app.example:8443", "http://[::1]:8080"]'
    )
    assert load_settings().gateway_allowed_origins == (
        "https://app.example:8443",
        "http://[::1]:8080",
    )
