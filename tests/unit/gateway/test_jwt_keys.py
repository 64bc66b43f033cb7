"""``default_algorithm``: the algorithm ``nexus token`` signs with when none is given."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from nexus_gateway.jwt_keys import PrivateKey, check_asymmetric_key, default_algorithm


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [
        (ec.SECP256R1(), "ES256"),
        (ec.SECP256K1(), "ES256K"),
        (ec.SECP384R1(), "ES384"),
        (ec.SECP521R1(), "ES512"),
    ],
)
def test_an_ec_key_signs_with_its_curves_algorithm(curve: ec.EllipticCurve, algorithm: str) -> None:
    key = ec.generate_private_key(curve)
    assert default_algorithm(key) == algorithm
    assert default_algorithm(key.public_key()) == algorithm
    check_asymmetric_key(algorithm, key, "the key")  # the gateway would take it


def _rsa() -> PrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("generate", "algorithm"),
    [
        (_rsa, "RS256"),
        (ed25519.Ed25519PrivateKey.generate, "EdDSA"),
        (ed448.Ed448PrivateKey.generate, "EdDSA"),
    ],
)
def test_rsa_and_edwards_keys_have_their_algorithm(
    generate: Callable[[], PrivateKey], algorithm: str
) -> None:
    key = generate()
    assert default_algorithm(key) == algorithm
    check_asymmetric_key(algorithm, key, "the key")


def test_an_ec_curve_without_a_jose_algorithm_has_none() -> None:
    assert default_algorithm(ec.generate_private_key(ec.SECP224R1())) is None
