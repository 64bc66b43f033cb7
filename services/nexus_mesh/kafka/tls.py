"""The TLS context of a Kafka client, from the files the settings name.

Read when the settings load (every command refuses a missing or unfit file at start) and
again for each client (one made after a certificate's renewal takes the new files). The
ssl module's own errors name neither the variable nor the file, and OpenSSL says only "PEM
lib" for either of a certificate and its key: what each file holds tells them apart here.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from nexus_mesh.settings import NexusSettings

_CAFILE = "NEXUS_KAFKA_SSL_CAFILE"
_CERTFILE = "NEXUS_KAFKA_SSL_CERTFILE"
_KEYFILE = "NEXUS_KAFKA_SSL_KEYFILE"


def kafka_ssl_context(settings: NexusSettings) -> ssl.SSLContext:
    """The TLS context of a Kafka client, from the files ``settings`` name, read now.

    Raises ValueError naming the variable and the file when one is missing, unreadable or
    does not hold what it should. The messages never quote a file's content (a private key).
    """
    cafile = settings.kafka_ssl_cafile
    certfile = settings.kafka_ssl_certfile
    keyfile = settings.kafka_ssl_keyfile
    if keyfile is not None and certfile is None:
        # Loaded only with a certificate: alone, it would be ignored and the broker would
        # refuse a client it expected to present one.
        raise ValueError(f"{_KEYFILE} needs {_CERTFILE}, the certificate of that key")
    # Read here first: the ssl module's errors name no file, and load_cert_chain's not even
    # which of its two.
    if cafile is not None:
        _read_tls_file(_CAFILE, cafile)
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except OSError as exc:
        if cafile is None:
            raise ValueError(
                f"the system's CA certificates do not load ({_why(exc)}); name a PEM file of "
                f"the broker's CA in {_CAFILE}"
            ) from None
        raise ValueError(
            f"{_named(_CAFILE, cafile)}: no CA certificate loads from it, a PEM file "
            f"expected ({_why(exc)})"
        ) from None
    if certfile is None:
        return context
    cert = _read_tls_file(_CERTFILE, certfile)
    key = cert if keyfile is None else _read_tls_file(_KEYFILE, keyfile)
    try:
        context.load_cert_chain(
            str(certfile), str(keyfile) if keyfile else None, password=_no_key_password
        )
    except _EncryptedKeyError:
        holder = _named(_KEYFILE, keyfile) if keyfile else _named(_CERTFILE, certfile)
        raise ValueError(
            f"{holder}: the private key is encrypted, and no setting holds its password "
            "(give the key unencrypted, readable by this process only)"
        ) from None
    except OSError as exc:
        raise ValueError(_cert_chain_problem(exc, certfile, keyfile, cert, key)) from None
    return context


class _EncryptedKeyError(Exception):
    pass


def _no_key_password() -> NoReturn:
    # Without a callback OpenSSL prompts on the terminal for the password, once for each
    # client a process makes.
    raise _EncryptedKeyError


def _read_tls_file(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{_named(variable, path)}: cannot read it ({_why(exc)})") from None


def _cert_chain_problem(
    exc: OSError, certfile: Path, keyfile: Path | None, cert: bytes, key: bytes
) -> str:
    certificate = _named(_CERTFILE, certfile)
    if isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH":
        if keyfile is None:
            return f"{certificate}: its private key is not the certificate's"
        return f"{_named(_KEYFILE, keyfile)} is not the key of {certificate}"
    # OpenSSL says only "PEM lib" for either file: what each holds tells them apart.
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        return f"{certificate}: no certificate in it, a PEM file expected ({_why(exc)})"
    if b"PRIVATE KEY-----" not in key:
        if keyfile is None:
            return f"{certificate}: no private key in it; name the key's file in {_KEYFILE}"
        return f"{_named(_KEYFILE, keyfile)}: no private key in it, a PEM file expected"
    files = certificate + (f", {_named(_KEYFILE, keyfile)}" if keyfile else "")
    return f"{files}: cannot load the client certificate and key ({_why(exc)})"


def _named(variable: str, path: Path) -> str:
    return f"{variable}={str(path)!r}"


def _why(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    # An ssl error ends with the line of CPython's _ssl.c that raised it.
    text = re.sub(r" \(_ssl\.c:\d+\)$", "", text)
    return text if isinstance(exc, ssl.SSLError) else text.lower()
