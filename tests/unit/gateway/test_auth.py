"""Gateway authentication: token locations, claims, close codes, key types, auth=none."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from nexus_gateway.auth import (
    Authenticator,
    AuthError,
    Principal,
    issue_token,
)
from nexus_mesh.errors import ConfigurationError
from nexus_mesh.settings import NexusSettings

SECRET = "test-secret-that-is-long-enough-for-hs256!"
NOW = 1_700_000_000.0
USER = "alice"
CAMPAIGN = "demo"


def settings(**overrides: Any) -> NexusSettings:
    return NexusSettings(**overrides)


def hs_auth(**overrides: Any) -> Authenticator:
    return Authenticator(settings(**{"auth": "jwt", "jwt_secret": SECRET, **overrides}))


def token(
    *,
    user: str = USER,
    campaigns: list[str] | None = None,
    ttl_s: int = 600,
    now: float = NOW,
    key: str = SECRET,
    algorithm: str = "HS256",
    **extra: Any,
) -> str:
    return issue_token(
        secret_or_key=key,
        user_id=user,
        campaigns=[CAMPAIGN] if campaigns is None else campaigns,
        ttl_s=ttl_s,
        algorithm=algorithm,
        now=now,
        **extra,
    )


def authenticate(
    auth: Authenticator,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    campaign_id: str = CAMPAIGN,
    user_id: str = USER,
    now: float = NOW,
) -> Principal:
    return auth.authenticate(
        campaign_id=campaign_id,
        user_id=user_id,
        headers=headers or {},
        query=query or {},
        now=now,
    )


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def rejected(call: Callable[[], object], code: int, tok: str | None = None) -> AuthError:
    with pytest.raises(AuthError) as caught:
        call()
    error = caught.value
    assert error.close_code == code
    if tok is not None:
        assert tok not in error.reason
        assert tok not in str(error)
        assert tok not in repr(error.args)
    return error


# -- token locations ------------------------------------------------------------------------


def test_hs256_authorization_header() -> None:
    tok = token()
    principal = authenticate(hs_auth(), headers=bearer(tok))
    assert principal == Principal(
        user_id=USER,
        campaigns=frozenset({CAMPAIGN}),
        expires_at=int(NOW) + 600,
        token_subprotocol=None,
    )
    assert principal.allows(CAMPAIGN)
    assert not principal.allows("other")


@pytest.mark.parametrize(
    "header",
    [("authorization", "bearer"), ("AUTHORIZATION", "BEARER"), ("Authorization", "Bearer")],
)
def test_authorization_header_name_and_scheme_are_case_insensitive(
    header: tuple[str, str],
) -> None:
    name, scheme = header
    tok = token()
    principal = authenticate(hs_auth(), headers={name: f"{scheme}   {tok}  "})
    assert principal.user_id == USER


def test_hs256_subprotocol_is_found_and_returned_for_the_handshake() -> None:
    tok = token()
    offered = f"nexus.v1, bearer.{tok}, other"
    principal = authenticate(hs_auth(), headers={"Sec-WebSocket-Protocol": offered})
    assert principal.user_id == USER
    assert principal.token_subprotocol == f"bearer.{tok}"


def test_hs256_query_parameter() -> None:
    principal = authenticate(hs_auth(), query={"token": token()})
    assert principal.user_id == USER
    assert principal.token_subprotocol is None


def test_extract_token_precedence_header_then_subprotocol_then_query() -> None:
    extract = Authenticator.extract_token
    assert extract({}, {}) == (None, None)
    assert extract({}, {"token": "q"}) == ("q", None)
    assert extract({"Sec-WebSocket-Protocol": "bearer.s"}, {"token": "q"}) == ("s", "bearer.s")
    assert extract(
        {"Authorization": "Bearer h", "Sec-WebSocket-Protocol": "x, bearer.s"}, {"token": "q"}
    ) == ("h", "bearer.s")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Sec-WebSocket-Protocol": "bearer."},
        {"Sec-WebSocket-Protocol": "nexus.v1"},
    ],
)
def test_extract_token_ignores_non_bearer_values(headers: dict[str, str]) -> None:
    assert Authenticator.extract_token(headers, {"token": ""}) == (None, None)


# -- rejections (4001) ----------------------------------------------------------------------


def test_missing_token_is_unauthorized() -> None:
    error = rejected(lambda: authenticate(hs_auth()), 4001)
    assert (error.reason, error.kind) == ("missing token", "missing")


def test_expired_token_is_unauthorized() -> None:
    tok = token(ttl_s=60)
    auth = hs_auth()
    # Within the leeway the token is still accepted; past it, it is not.
    assert authenticate(auth, headers=bearer(tok), now=NOW + 65).user_id == USER
    error = rejected(lambda: authenticate(auth, headers=bearer(tok), now=NOW + 71), 4001, tok)
    assert (error.reason, error.kind) == ("token expired", "expired")


def test_token_from_the_future_is_unauthorized() -> None:
    tok = token(now=NOW + 3600)
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)
    assert error.kind == "not_yet_valid"


def test_wrong_signature_is_unauthorized() -> None:
    tok = token(key="another-secret-that-is-also-long-enough!!")
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)
    assert (error.reason, error.kind) == ("invalid token signature", "bad_signature")


def test_tampered_payload_is_unauthorized() -> None:
    header, _, signature = token().split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps({"sub": USER, "campaigns": ["*"], "exp": NOW + 600}).encode()
    ).rstrip(b"=")
    tok = f"{header}.{forged.decode()}.{signature}"
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)


def test_subject_mismatch_is_unauthorized() -> None:
    tok = token(user="mallory")
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)
    assert "subject" in error.reason
    assert error.kind == "subject_mismatch"


@pytest.mark.parametrize("missing", ["exp", "sub"])
def test_tokens_without_exp_or_sub_are_unauthorized(missing: str) -> None:
    claims: dict[str, Any] = {"sub": USER, "campaigns": ["*"], "exp": int(NOW) + 600}
    del claims[missing]
    tok = jwt.encode(claims, SECRET, algorithm="HS256")
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)
    assert missing in error.reason
    assert error.kind == "missing_claim"


def test_unsigned_token_is_unauthorized() -> None:
    tok = jwt.encode({"sub": USER, "campaigns": ["*"], "exp": int(NOW) + 600}, "", "none")
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)


def test_algorithm_not_configured_is_unauthorized() -> None:
    tok = jwt.encode(
        {"sub": USER, "campaigns": ["*"], "exp": int(NOW) + 600}, SECRET + "x" * 30, "HS384"
    )
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)
    assert error.reason == "token algorithm not accepted"


@pytest.mark.parametrize(
    "garbage",
    ["not-a-jwt", "a.b.c", "....", "Bearer", "é.é.é", "\ud800.a.b", "eyJhbGciOltdfQ.e30.AA"],
)
def test_malformed_token_is_unauthorized(garbage: str) -> None:
    rejected(lambda: authenticate(hs_auth(), query={"token": garbage}), 4001, garbage)


# 1 followed by 400 zeros: an integer too large for a float, which math.isfinite raises on.
@pytest.mark.parametrize(
    "exp", ["NaN", "Infinity", "1e999", "true", '"2000000000"', "1" + "0" * 400]
)
def test_non_numeric_exp_is_unauthorized(exp: str) -> None:
    # Hand-built, since PyJWT would not encode these values.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = f'{{"sub":"{USER}","campaigns":["*"],"exp":{exp}}}'.encode()
    signing_input = header + b"." + base64.urlsafe_b64encode(body).rstrip(b"=")
    signature = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    tok = (signing_input + b"." + signature).decode()
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)


def test_oversized_token_is_unauthorized() -> None:
    tok = "a" * 10_000
    rejected(lambda: authenticate(hs_auth(), query={"token": tok}), 4001, tok)


def test_audience_and_issuer_are_enforced_when_configured() -> None:
    auth = hs_auth(jwt_audience="nexus", jwt_issuer="https://idp.example")
    good = token(audience="nexus", issuer="https://idp.example")
    assert authenticate(auth, headers=bearer(good)).user_id == USER
    wrong_audience = token(audience="elsewhere", issuer="https://idp.example")
    wrong_issuer = token(audience="nexus", issuer="https://evil.example")
    neither = token()
    error = rejected(lambda: authenticate(auth, headers=bearer(wrong_audience)), 4001)
    assert (error.reason, error.kind) == ("token audience not accepted", "wrong_audience")
    error = rejected(lambda: authenticate(auth, headers=bearer(wrong_issuer)), 4001)
    assert (error.reason, error.kind) == ("token issuer not accepted", "wrong_issuer")
    rejected(lambda: authenticate(auth, headers=bearer(neither)), 4001)


def test_token_with_audience_is_rejected_when_none_is_configured() -> None:
    tok = token(audience="someone-else")
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)


_JWT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


@given(st.text(min_size=1, max_size=300) | st.text(_JWT_ALPHABET, min_size=1, max_size=300))
def test_any_garbage_token_is_a_4001_without_echoing_it(garbage: str) -> None:
    auth = Authenticator(settings(auth="jwt", jwt_secret=SECRET))
    with pytest.raises(AuthError) as caught:
        auth.authenticate(
            campaign_id=CAMPAIGN, user_id=USER, headers={}, query={"token": garbage}, now=NOW
        )
    assert caught.value.close_code == 4001
    # One of a few fixed texts, so nothing of the token: an echo check alone failed on a
    # "token" that read "malformed token".
    assert (caught.value.kind, caught.value.reason) in {
        ("malformed", "malformed token"),
        ("bad_algorithm", "token algorithm not accepted"),
        ("bad_signature", "invalid token signature"),
    }


# -- campaigns (4003) -----------------------------------------------------------------------


def test_campaign_not_in_claim_is_forbidden() -> None:
    tok = token(campaigns=["other", "third"])
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4003, tok)
    assert (error.reason, error.kind) == ("campaign not allowed by token", "campaign_forbidden")


def test_missing_campaigns_claim_is_forbidden() -> None:
    tok = jwt.encode({"sub": USER, "exp": int(NOW) + 600}, SECRET, algorithm="HS256")
    error = rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4003, tok)
    assert error.kind == "no_campaigns"


def test_forbidden_close_echoes_the_offered_subprotocol() -> None:
    tok = token(campaigns=["other"])
    headers = {"Sec-WebSocket-Protocol": f"bearer.{tok}"}
    with pytest.raises(AuthError) as caught:
        authenticate(hs_auth(), headers=headers)
    assert caught.value.close_code == 4003
    assert caught.value.token_subprotocol == f"bearer.{tok}"


@pytest.mark.parametrize("claim", [["*"], "*", ["a", "*"]])
def test_star_allows_every_campaign(claim: Any) -> None:
    tok = jwt.encode({"sub": USER, "campaigns": claim, "exp": int(NOW) + 600}, SECRET, "HS256")
    principal = authenticate(hs_auth(), headers=bearer(tok), campaign_id="anything-at-all")
    assert principal.campaigns is None
    assert principal.allows("whatever")


def test_single_string_campaign_claim_is_one_campaign() -> None:
    tok = jwt.encode({"sub": USER, "campaigns": CAMPAIGN, "exp": int(NOW) + 600}, SECRET, "HS256")
    assert authenticate(hs_auth(), headers=bearer(tok)).campaigns == frozenset({CAMPAIGN})
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok), campaign_id="x"), 4003)


@pytest.mark.parametrize("claim", [42, [1, 2], {"demo": True}, [None]])
def test_malformed_campaigns_claim_is_unauthorized(claim: Any) -> None:
    tok = jwt.encode({"sub": USER, "campaigns": claim, "exp": int(NOW) + 600}, SECRET, "HS256")
    rejected(lambda: authenticate(hs_auth(), headers=bearer(tok)), 4001, tok)


# -- asymmetric keys ------------------------------------------------------------------------


def _pems(private_key: Any) -> tuple[str, str]:
    private = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_pems() -> tuple[str, str]:
    return _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_pems() -> tuple[str, str]:
    return _pems(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(("algorithm", "pems"), [("RS256", "rsa_pems"), ("ES256", "ec_pems")])
def test_asymmetric_tokens(algorithm: str, pems: str, request: pytest.FixtureRequest) -> None:
    private, public = request.getfixturevalue(pems)
    auth = Authenticator(settings(jwt_public_key=public, jwt_algorithms=(algorithm,)))
    tok = token(key=private, algorithm=algorithm)
    assert authenticate(auth, headers=bearer(tok)).user_id == USER
    # Signed by another key of the same kind: rejected.
    other_private, _ = (
        _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if algorithm == "RS256"
        else _pems(ec.generate_private_key(ec.SECP256R1()))
    )
    forged = token(key=other_private, algorithm=algorithm)
    rejected(lambda: authenticate(auth, headers=bearer(forged)), 4001, forged)


def test_public_key_cannot_be_used_as_an_hmac_secret(rsa_pems: tuple[str, str]) -> None:
    # The classic algorithm-confusion attack: HS256 "signed" with the gateway's public key.
    _, public = rsa_pems
    auth = Authenticator(
        settings(jwt_public_key=public, jwt_secret=SECRET, jwt_algorithms=("RS256", "HS256"))
    )
    claims = {"sub": USER, "campaigns": ["*"], "exp": int(NOW) + 600}
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signing_input = header + b"." + body
    signature = base64.urlsafe_b64encode(
        hmac.new(public.encode(), signing_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    forged = (signing_input + b"." + signature).decode()
    rejected(lambda: authenticate(auth, headers=bearer(forged)), 4001, forged)
    # Both configured algorithms still work with their own keys.
    assert authenticate(auth, headers=bearer(token())).user_id == USER


def test_public_key_with_escaped_newlines_is_accepted(ec_pems: tuple[str, str]) -> None:
    private, public = ec_pems
    auth = Authenticator(
        settings(jwt_public_key=public.replace("\n", "\\n"), jwt_algorithms=("ES256",))
    )
    tok = token(key=private, algorithm="ES256")
    assert authenticate(auth, headers=bearer(tok)).user_id == USER


# -- auth=none ------------------------------------------------------------------------------


def test_auth_none_accepts_everyone_and_warns() -> None:
    auth = Authenticator(settings(auth="none"))
    assert auth.disabled
    warning = auth.startup_warning()
    assert warning is not None
    assert "NEXUS_AUTH=none" in warning
    principal = authenticate(auth, user_id="bob", campaign_id="anything")
    assert principal == Principal(
        user_id="bob", campaigns=None, expires_at=None, token_subprotocol=None
    )
    # A browser offering a token subprotocol must still get it echoed back.
    offered = authenticate(auth, headers={"Sec-WebSocket-Protocol": "bearer.x.y.z"})
    assert offered.token_subprotocol == "bearer.x.y.z"


def test_auth_jwt_has_no_startup_warning() -> None:
    auth = hs_auth()
    assert not auth.disabled
    assert auth.startup_warning() is None


# -- configuration --------------------------------------------------------------------------


def test_jwt_without_secret_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_SECRET"):
        Authenticator(settings(auth="jwt"))


def test_short_secret_is_rejected_without_showing_it() -> None:
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_SECRET") as caught:
        Authenticator(settings(jwt_secret="tiny-secret"))
    assert "tiny-secret" not in str(caught.value)


def test_rs256_without_public_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_PUBLIC_KEY"):
        Authenticator(settings(jwt_secret=SECRET, jwt_algorithms=("RS256",)))


@pytest.mark.parametrize(
    "public_key",
    [
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_unparseable_public_key_names_the_variable(public_key: str) -> None:
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_PUBLIC_KEY"):
        Authenticator(settings(jwt_public_key=public_key, jwt_algorithms=("RS256",)))


def test_private_key_in_public_key_setting_is_refused(rsa_pems: tuple[str, str]) -> None:
    private, _ = rsa_pems
    with pytest.raises(ConfigurationError, match="private key") as caught:
        Authenticator(settings(jwt_public_key=private, jwt_algorithms=("RS256",)))
    assert private not in str(caught.value)


def test_key_of_the_wrong_kind_is_refused(rsa_pems: tuple[str, str]) -> None:
    _, public = rsa_pems
    with pytest.raises(ConfigurationError, match="ES256"):
        Authenticator(settings(jwt_public_key=public, jwt_algorithms=("ES256",)))


@pytest.mark.parametrize("algorithms", [(), ("none",), ("HS999",)])
def test_bad_algorithm_list_names_the_variable(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_ALGORITHMS"):
        Authenticator(settings(jwt_secret=SECRET, jwt_algorithms=algorithms))


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_AUTH", "jwt")
    monkeypatch.setenv("NEXUS_JWT_SECRET", SECRET)
    auth = Authenticator(NexusSettings())
    assert authenticate(auth, headers=bearer(token())).user_id == USER


# -- issue_token ----------------------------------------------------------------------------


def test_issue_token_takes_a_lone_string_as_one_campaign() -> None:
    tok = issue_token(secret_or_key=SECRET, user_id=USER, campaigns="demo", ttl_s=60)
    assert jwt.decode(tok, SECRET, algorithms=["HS256"])["campaigns"] == ["demo"]


def test_issue_token_claims() -> None:
    tok = token(campaigns=["a", "b"], ttl_s=120, audience="nexus", issuer="me")
    claims = jwt.decode(
        tok, SECRET, algorithms=["HS256"], audience="nexus", options={"verify_exp": False}
    )
    assert claims == {
        "sub": USER,
        "campaigns": ["a", "b"],
        "iat": int(NOW),
        "exp": int(NOW) + 120,
        "aud": "nexus",
        "iss": "me",
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl_s": 0},
        {"user": ""},
        {"key": "short"},
        {"key": ""},
        {"algorithm": "none"},
        {"algorithm": "RS256"},  # the HMAC secret is no private key
    ],
)
def test_issue_token_refuses_unusable_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        token(**kwargs)


def test_tokens_in_the_url_can_be_refused() -> None:
    """NEXUS_AUTH_QUERY_TOKEN=false: a token in ?token= (where proxies log it) is refused with
    a reason that says where to send it; the header and the subprotocol still work."""
    strict = hs_auth(auth_query_token=False)
    with pytest.raises(AuthError) as refused:
        authenticate(strict, query={"token": token()})
    assert refused.value.close_code == 4001
    assert "Authorization: Bearer" in refused.value.reason
    principal = authenticate(strict, headers={"Authorization": f"Bearer {token()}"})
    assert principal.user_id == USER
    assert authenticate(hs_auth(), query={"token": token()}).user_id == USER


# -- key rotation -------------------------------------------------------------------------------


def test_a_previous_hmac_secret_is_accepted_during_a_rotation() -> None:
    """Gateways given the new secret and the old one accept tokens of both, so clients are
    not refused while the token issuer and the pods change keys one after another."""
    new_secret = "the-new-secret-that-is-long-enough-for-hs256"
    auth = hs_auth(jwt_secret=new_secret, jwt_previous_secret=SECRET)
    for key in (new_secret, SECRET):
        assert authenticate(auth, headers=bearer(token(key=key))).user_id == USER
    stranger = token(key="a-third-secret-that-is-long-enough-for-hs256")
    rejected(lambda: authenticate(auth, headers=bearer(stranger)), 4001, stranger)
    # Once the rotation is over (no previous secret), the old tokens are refused.
    old = token(key=SECRET)
    rejected(lambda: authenticate(hs_auth(jwt_secret=new_secret), headers=bearer(old)), 4001, old)
    with pytest.raises(ConfigurationError, match="NEXUS_JWT_PREVIOUS_SECRET"):
        hs_auth(jwt_previous_secret="too-short")


def test_a_public_key_bundle_accepts_each_key_s_tokens(
    rsa_pems: tuple[str, str], ec_pems: tuple[str, str]
) -> None:
    old_private, old_public = rsa_pems
    new_private, new_public = _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    bundle = old_public + new_public
    auth = Authenticator(settings(jwt_public_key=bundle, jwt_algorithms=("RS256",)))
    for private in (old_private, new_private):
        tok = token(key=private, algorithm="RS256")
        assert authenticate(auth, headers=bearer(tok)).user_id == USER
    # A key in the bundle no configured algorithm can use is a mistake, said at start.
    with pytest.raises(ConfigurationError, match=r"key 2 of 2 \(EC secp256r1\) fits none"):
        Authenticator(settings(jwt_public_key=old_public + ec_pems[1], jwt_algorithms=("RS256",)))


def _certificate(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool) -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_certificate_chain_trusts_its_leaf_not_its_issuer() -> None:
    """A fullchain.pem: the leaf's key verifies tokens; the CA's, which signed it (and who
    knows what else), does not, and a CA of another key type is no configuration error."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _certificate("issuer", ca_key, "issuer", ca_key, ca=True)
    leaf = _certificate("tokens", leaf_key, "issuer", ca_key, ca=False)
    auth = Authenticator(settings(jwt_public_key=leaf + ca, jwt_algorithms=("RS256",)))
    leaf_private, _ = _pems(leaf_key)
    ca_private, _ = _pems(ca_key)
    assert authenticate(auth, headers=bearer(token(key=leaf_private, algorithm="RS256")))
    by_ca = token(key=ca_private, algorithm="RS256")
    rejected(lambda: authenticate(auth, headers=bearer(by_ca)), 4001, by_ca)
    ec_ca_key = ec.generate_private_key(ec.SECP256R1())
    ec_ca = _certificate("issuer", ec_ca_key, "issuer", ec_ca_key, ca=True)
    rsa_leaf = _certificate("tokens", leaf_key, "issuer", ec_ca_key, ca=False)
    Authenticator(settings(jwt_public_key=rsa_leaf + ec_ca, jwt_algorithms=("RS256",)))
