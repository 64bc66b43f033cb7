"""JWT keys: which key verifies (or signs) which algorithm, checked once at start.

Weak or mismatched keys are configuration errors naming the variable, never a token that
verifies by accident (e.g. an HMAC token "signed" with a public key).
"""

from __future__ import annotations

import re
from typing import Any, Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from nexus_mesh.errors import ConfigurationError

# RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
HMAC_MIN_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
RSA_MIN_BITS: Final = 2048
EC_CURVES: Final = {
    "ES256": "secp256r1",
    "ES256K": "secp256k1",
    "ES384": "secp384r1",
    "ES512": "secp521r1",
    "ES521": "secp521r1",
}
# The JOSE algorithms verified with a public key; the rest of PyJWT's list is HMAC or "none".
ASYMMETRIC_PREFIXES: Final = ("RS", "PS", "ES", "EdDSA")

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


def is_asymmetric(algorithm: str) -> bool:
    return algorithm.startswith(ASYMMETRIC_PREFIXES)


def check_algorithm(name: str, variable: str) -> None:
    # "none" would accept unsigned tokens; it is never a valid choice here.
    if name == "none":
        raise ConfigurationError(f"{variable}: the 'none' algorithm is not allowed")
    try:
        jwt.get_algorithm_by_name(name)
    except NotImplementedError:
        raise ConfigurationError(f"{variable}: unknown JWT algorithm {name!r}") from None


def hmac_key(algorithm: str, secret: str, variable: str) -> bytes:
    key = secret.encode()
    minimum = HMAC_MIN_BYTES.get(algorithm, 32)
    if len(key) < minimum:
        raise ConfigurationError(
            f"{variable} is {len(key)} bytes; {algorithm} needs at least {minimum} "
            "(RFC 7518 section 3.2), e.g. `openssl rand -base64 48`"
        )
    return key


def fits(algorithm: str, key: PublicKey | PrivateKey) -> bool:
    # Checked here, not left to PyJWT, whose key-type and curve checks vary between releases.
    if algorithm.startswith(("RS", "PS")):
        return isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey)
    if algorithm.startswith("ES"):
        return (
            isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
            and EC_CURVES.get(algorithm) == key.curve.name
        )
    return isinstance(
        key,
        ed25519.Ed25519PublicKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PublicKey
        | ed448.Ed448PrivateKey,
    )


def check_asymmetric_key(algorithm: str, key: PublicKey | PrivateKey, variable: str) -> None:
    if not fits(algorithm, key):
        raise ConfigurationError(
            f"{variable} is a {key_kind(key)} key, which cannot be used with {algorithm}"
        )
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey) and key.key_size < RSA_MIN_BITS:
        raise ConfigurationError(
            f"{variable} is a {key.key_size}-bit RSA key; use at least {RSA_MIN_BITS} bits"
        )


def default_algorithm(key: PublicKey | PrivateKey) -> str | None:
    """The algorithm a key naturally signs with, or None when it has none here (an EC key
    on a curve no JOSE algorithm uses)."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        # The first of EC_CURVES' names wins: ES512 for secp521r1, ES521 being its alias.
        return next((name for name, curve in EC_CURVES.items() if curve == key.curve.name), None)
    return "EdDSA"


def key_kind(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    return "Edwards-curve"


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def _unescaped(pem: str) -> str:
    # .env files often carry a PEM on one line with literal "\n" escapes.
    if "\n" not in pem and "\\n" in pem:
        return pem.replace("\\n", "\n")
    return pem


def load_public_keys(pem: str) -> list[PublicKey]:
    """Every key of a PEM bundle (public keys or certificates, one after another): during a
    rotation the gateways accept tokens of the old key and the new one."""
    pem = _unescaped(pem)
    blocks = [match.group(0) for match in _PEM_BLOCK.finditer(pem)]
    if len(blocks) < 2:
        return [load_public_key(pem)]
    # A certificate chain (a fullchain.pem) holds its issuers too: only the leaf signs tokens,
    # and trusting a CA's key would accept whatever else it signed.
    return [load_public_key(block) for block in blocks if not _is_ca_certificate(block)]


def _is_ca_certificate(block: str) -> bool:
    if not block.startswith("-----BEGIN CERTIFICATE-----"):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(block.encode())
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError:
        return False  # load_public_key says what is wrong with it


def load_public_key(pem: str) -> PublicKey:
    data = _unescaped(pem).strip().encode()
    if b"PRIVATE KEY-----" in data:
        raise ConfigurationError(
            "NEXUS_JWT_PUBLIC_KEY holds a private key; give the gateway only the public key"
        )
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except ValueError:
        raise ConfigurationError(
            "NEXUS_JWT_PUBLIC_KEY is not a PEM public key (-----BEGIN PUBLIC KEY-----) "
            "or certificate"
        ) from None
    if not isinstance(key, PublicKey):
        raise ConfigurationError("NEXUS_JWT_PUBLIC_KEY is not an RSA, EC or Edwards-curve key")
    return key


def load_private_key(pem: str) -> PrivateKey:
    try:
        key = load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError):
        # TypeError: the key is encrypted; a dev command has no way to ask for the passphrase.
        raise ConfigurationError(
            "the private key is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
        ) from None
    if not isinstance(key, PrivateKey):
        raise ConfigurationError("the private key is not an RSA, EC or Edwards-curve key")
    return key
