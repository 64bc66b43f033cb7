"""Credentials are masked in log output however they were written: quoted, JSON, repr()."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass

import pytest

from nexus_mesh.logs import JsonFormatter, RedactingFormatter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"


@dataclass
class KafkaAuth:
    username: str
    password: str


# (what the code logged, what the operator reads)
MASKED = [
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
    ('{"Authorization": "Digest abc123"}', '{"Authorization": "Digest ***"}'),
    ("authorization=dXNlcg==", "authorization=***"),
    ("secret_key=s3cr3t", "secret_key=***"),
    ("aws_secret_access_key=AKIAxyz", "aws_secret_access_key=***"),
    ("private_key: '-----BEGIN-----'", "private_key: '***'"),
    ("NEXUS_JWT_SECRET='supersecretvalue'", "NEXUS_JWT_SECRET='***'"),
    ('secret="quoted"', 'secret="***"'),
    ("sasl_plain_password='hunter2'", "sasl_plain_password='***'"),
    ('{"password": "hunter2"}', '{"password": "***"}'),
    ('password: "hunter2"', 'password: "***"'),
    (str({"password": "hunter2", "user": "alice"}), "{'password': '***', 'user': 'alice'}"),
    ("password: hunter2", "password: ***"),
    ("PASSWORD:'hunter2'", "PASSWORD:'***'"),
    ("password = hunter2 retries=3", "password = *** retries=3"),
    ("connect with password=hunter2 and secret=s3cr3t", "connect with password=*** and secret=***"),
    ("NEXUS_KAFKA_SASL_PASSWORD=hunter2", "NEXUS_KAFKA_SASL_PASSWORD=***"),
    (
        '{"access_token": "opaque123", "expires_in": 3600}',
        '{"access_token": "***", "expires_in": 3600}',
    ),
    (
        "POST /oauth?refresh_token=opaque123&client_id=web",
        "POST /oauth?refresh_token=***&client_id=web",
    ),
    ('clientSecret: "abc"', 'clientSecret: "***"'),
    ("X-Api-Key: k-123", "X-Api-Key: ***"),
    (repr(KafkaAuth("nexus", "hunter2")), "KafkaAuth(username='nexus', password='***')"),
    (str({"token": b"opaque"}), "{'token': b'***'}"),
    # JSON inside a JSON string, and a repr() whose value holds both kinds of quote
    (json.dumps(json.dumps({"password": "hunter2"})), '"{\\"password\\": \\"***\\"}"'),
    (repr({"password": 'it\'s "x"'}), "{'password': '***'}"),
    # the whole quoted value, not only up to its first space
    ('password="correct horse battery staple" user=alice', 'password="***" user=alice'),
    # a line cut short before the closing quote
    ('password="cut off', 'password="***'),
    (f"GET /ws/c/u?token={JWT}&since=x", "GET /ws/c/u?token=***&since=x"),
    (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
    ("Authorization: Bearer opaque+/token==", "Authorization: Bearer ***"),
    (
        "Sec-WebSocket-Protocol: nexus.v1, bearer.opaque-token-value",
        "Sec-WebSocket-Protocol: nexus.v1, bearer.***",
    ),
    (f"a token inside text {JWT}.", "a token inside text ***."),
    (f"{{'sub': 'u1', 'raw': '{JWT}'}}", "{'sub': 'u1', 'raw': '***'}"),
    (
        "OTLP endpoint https://alice:hunter2@otel:4318/v1/traces",
        "OTLP endpoint https://alice:***@otel:4318/v1/traces",
    ),
]

# Words about credentials, and keys that only look like them, are not credentials.
KEPT = [
    "partition_key=campaign-1",
    "message_key: acme",
    "basic authentication is disabled",
    "password reset requested for user 42",
    "token bucket refilled",
    "secret rotation scheduled for 02:00",
    "passwordless login for user 42",
    "NEXUS_JWT_SECRET is not set",
    "GET /ws/c/u?since=abc",
    "rate limit: tokens=5 max_tokens=100",
    "token_type=bearer expires_in=3600",
    "secret_name=nexus-jwt namespace=nexus",
    "tokenizer=bpe",
    "PWD=/srv/nexus",
    "ssl_keyfile=/etc/tls/tls.key",
    "broker http://kafka-0:9092/ unreachable",
    "eyJhbGciOiJIUzI1NiJ9 is a JWT header, not a token",
    "user_id=42 campaign=c1 connection_id=abc",
]


@pytest.mark.parametrize(("logged", "shown"), MASKED, ids=[logged for logged, _ in MASKED])
def test_credentials_are_masked(logged: str, shown: str) -> None:
    assert redact(logged) == shown


@pytest.mark.parametrize("logged", KEPT)
def test_harmless_text_keeps_its_words(logged: str) -> None:
    assert redact(logged) == logged


def _json_line(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("nexus.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    line: dict[str, object] = json.loads(JsonFormatter().format(record))
    return line


def test_extra_fields_are_masked_whatever_their_type() -> None:
    line = _json_line(
        "connecting",
        password="hunter2",
        config={"kafka": {"sasl_plain_password": "hunter2", "bootstrap": "kafka-0:9092"}},
        headers=[("authorization", f"Bearer {JWT}"), ("x-campaign", "c1")],
        auth=KafkaAuth("nexus", "hunter2"),
        attempt=3,
        tokens=5,
    )
    assert "hunter2" not in json.dumps(line)
    assert JWT not in json.dumps(line)
    assert line["password"] == "***"
    assert line["config"] == {"kafka": {"sasl_plain_password": "***", "bootstrap": "kafka-0:9092"}}
    assert line["headers"] == [["authorization", "Bearer ***"], ["x-campaign", "c1"]]
    assert line["auth"] == "KafkaAuth(username='nexus', password='***')"
    # numbers stay numbers, and a count of tokens is no credential
    assert line["attempt"] == 3
    assert line["tokens"] == 5


def test_an_extra_dict_with_int_keys_is_still_written() -> None:
    line = _json_line("lag", lag={0: 5, 1: 7})
    assert line["lag"] == {"0": 5, "1": 7}


def test_values_substituted_by_name_are_masked() -> None:
    line = _json_line("login %(user)s with %(password)s", {"user": "alice", "password": "hunter2"})
    assert line["message"] == "login alice with ***"
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "%(user)s/%(password)s",
        ({"user": "a", "password": "b"},),
        None,
    )
    assert RedactingFormatter("%(message)s").format(record) == "a/***"


def test_quoted_secrets_in_exceptions_are_masked() -> None:
    try:
        raise ValueError("bad settings: {'sasl_plain_password': 'hunter2'}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert "'sasl_plain_password': '***'" in line["exception"]
    assert "hunter2" not in line["exception"]
    text = RedactingFormatter("%(message)s").format(record)
    assert "ValueError" in text
    assert "hunter2" not in text


def test_text_format_masks_quoted_values() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "settings %s", ({"password": "hunter2"},), None
    )
    assert RedactingFormatter("%(message)s").format(record) == "settings {'password': '***'}"


def test_a_long_run_of_jwt_starts_is_masked_in_linear_time() -> None:
    """60 KB of "eyJ" used to take seconds (each position tried again); log lines and
    structured extras are masked on the way out, so this is on every log call's path."""
    began = time.perf_counter()
    redact("eyJ" * 20_000)
    assert time.perf_counter() - began < 0.5
