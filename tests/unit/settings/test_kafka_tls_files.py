"""The TLS files of the Kafka connection are read when settings load: a missing, unreadable or
unfit one stops every command at start, naming the variable and the file."""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.settings import load_settings

SASL_PASSWORD = "sasl-password-never-shown"


@pytest.fixture(autouse=True)
def _tls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NEXUS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEXUS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEXUS_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("NEXUS_KAFKA_SASL_USERNAME", "mesh")
    monkeypatch.setenv("NEXUS_KAFKA_SASL_PASSWORD", SASL_PASSWORD)


def _key_and_cert(common_name: str) -> tuple[bytes, bytes]:
    """An unencrypted PEM private key and its self-signed PEM certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, Path]:
    """PEM files: a certificate and its key, another key, an encrypted key and its
    certificate, the first pair in one file, and a file that is no PEM at all."""
    key, cert = _key_and_cert("client")
    other_key, _ = _key_and_cert("other")
    encrypted = serialization.load_pem_private_key(key, password=None).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-password-never-shown"),
    )
    files = {
        "cert": cert,
        "key": key,
        "other_key": other_key,
        "encrypted_key": encrypted,
        "cert_and_key": cert + key,
        "junk": b"not a PEM file\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(content)
    return paths


def _refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid configuration: ")
    assert "\n" not in message
    assert SASL_PASSWORD not in message
    return message


def test_a_missing_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "absent-ca.pem"
    assert _refusal(monkeypatch, NEXUS_KAFKA_SSL_CAFILE=str(missing)) == (
        f"invalid configuration: NEXUS_KAFKA_SSL_CAFILE={str(missing)!r}: cannot read it "
        "(no such file or directory)"
    )


def test_a_directory_as_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    message = _refusal(monkeypatch, NEXUS_KAFKA_SSL_CAFILE=str(tmp_path))
    assert f"NEXUS_KAFKA_SSL_CAFILE={str(tmp_path)!r}: cannot read it (is a directory)" in message


def test_a_ca_file_without_a_certificate_is_named(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path]
) -> None:
    message = _refusal(monkeypatch, NEXUS_KAFKA_SSL_CAFILE=str(tls["junk"]))
    assert f"NEXUS_KAFKA_SSL_CAFILE={str(tls['junk'])!r}: no CA certificate loads" in message
    assert "NO_CERTIFICATE_OR_CRL_FOUND" in message


@pytest.mark.parametrize(
    ("cert", "key", "expected"),
    [
        ("absent", "key", "NEXUS_KAFKA_SSL_CERTFILE={cert}: cannot read it (no such file"),
        ("cert", "absent", "NEXUS_KAFKA_SSL_KEYFILE={key}: cannot read it (no such file"),
        ("junk", "key", "NEXUS_KAFKA_SSL_CERTFILE={cert}: no certificate in it"),
        ("cert", "junk", "NEXUS_KAFKA_SSL_KEYFILE={key}: no private key in it"),
        ("cert", "other_key", "NEXUS_KAFKA_SSL_KEYFILE={key} is not the key of "),
        ("cert", None, "NEXUS_KAFKA_SSL_CERTFILE={cert}: no private key in it; name the key"),
        (None, "key", "NEXUS_KAFKA_SSL_KEYFILE needs NEXUS_KAFKA_SSL_CERTFILE"),
        ("cert", "encrypted_key", "NEXUS_KAFKA_SSL_KEYFILE={key}: the private key is encrypted"),
    ],
)
def test_an_unfit_client_certificate_or_key_is_named(
    monkeypatch: pytest.MonkeyPatch,
    tls: dict[str, Path],
    tmp_path: Path,
    cert: str | None,
    key: str | None,
    expected: str,
) -> None:
    paths = {**tls, "absent": tmp_path / "absent.pem"}
    variables = {}
    if cert is not None:
        variables["NEXUS_KAFKA_SSL_CERTFILE"] = str(paths[cert])
    if key is not None:
        variables["NEXUS_KAFKA_SSL_KEYFILE"] = str(paths[key])
    message = _refusal(monkeypatch, **variables)
    quoted = {name: repr(str(paths[name])) for name in (cert, key) if name is not None}
    assert expected.format(cert=quoted.get(cert, ""), key=quoted.get(key, "")) in message
    # A key file's content never reaches a message (nor a log line quoting it).
    assert "PRIVATE KEY" not in message


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"NEXUS_KAFKA_SSL_CAFILE": "cert"},
        {"NEXUS_KAFKA_SSL_CAFILE": "cert", "NEXUS_KAFKA_SSL_CERTFILE": "cert_and_key"},
        {
            "NEXUS_KAFKA_SSL_CAFILE": "cert",
            "NEXUS_KAFKA_SSL_CERTFILE": "cert",
            "NEXUS_KAFKA_SSL_KEYFILE": "key",
        },
    ],
)
def test_fit_files_give_every_client_a_tls_context(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path], variables: dict[str, str]
) -> None:
    for name, file in variables.items():
        monkeypatch.setenv(name, str(tls[file]))
    kwargs = client_kwargs(load_settings())
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["sasl_plain_password"] == SASL_PASSWORD


def test_a_file_gone_after_start_is_named_when_a_client_is_made(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path]
) -> None:
    monkeypatch.setenv("NEXUS_KAFKA_SSL_CAFILE", str(tls["cert"]))
    settings = load_settings()
    tls["cert"].unlink()
    with pytest.raises(ConfigurationError) as caught:
        client_kwargs(settings)
    assert str(caught.value) == (
        f"invalid configuration: NEXUS_KAFKA_SSL_CAFILE={str(tls['cert'])!r}: cannot read it "
        "(no such file or directory)"
    )


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_tls_files_with_a_protocol_without_tls_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, protocol: str
) -> None:
    """The files were read and ignored: the client connected in the clear, and nothing said."""
    monkeypatch.setenv("NEXUS_KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("NEXUS_KAFKA_SSL_CAFILE", str(tmp_path / "ca.pem"))
    with pytest.raises(ConfigurationError, match=f"SECURITY_PROTOCOL={protocol} does not use TLS"):
        load_settings()
