"""Who is connecting, and to which campaigns they may connect (DESIGN.md section 5).

A client proves its identity with a JWT in one of three places: an ``Authorization: Bearer``
header, a ``bearer.<jwt>`` entry of ``Sec-WebSocket-Protocol`` (browsers cannot set headers on
a WebSocket), or a ``?token=`` query parameter. :class:`Authenticator` turns that into a
:class:`Principal` or an :class:`AuthError` carrying the close code (4001 or 4003) to send.

``NEXUS_AUTH=none`` accepts everyone as whoever the path says, for local development only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

import jwt

from nexus_gateway.jwt_keys import (
    PrivateKey,
    PublicKey,
    check_algorithm,
    check_asymmetric_key,
    fits,
    hmac_key,
    is_asymmetric,
    key_kind,
    load_private_key,
    load_public_keys,
)
from nexus_gateway.protocol import CloseCode
from nexus_mesh.errors import ConfigurationError, NexusError
from nexus_mesh.settings import NexusSettings

DEFAULT_LEEWAY_S: Final = 10.0
ALL_CAMPAIGNS: Final = "*"
SUBPROTOCOL_PREFIX: Final = "bearer."

# Far above any real token, far below what would make decoding it a cost worth attacking.
_MAX_TOKEN_CHARS: Final = 8192

Refusal = Literal[
    "missing",
    "token_in_url",
    "malformed",
    "bad_algorithm",
    "bad_signature",
    "missing_claim",
    "invalid_claim",
    "wrong_audience",
    "wrong_issuer",
    "subject_mismatch",
    "expired",
    "not_yet_valid",
    "no_campaigns",
    "campaign_forbidden",
]
# Why a handshake was refused, and the close code it gets. A fixed set, never text from the
# request: it is a metric label (nexus_gateway_auth_failures_total{reason}) and what the log's
# repeat filter tells refusals apart by, and a client chooses what its token holds.
REFUSAL_CODES: Final[Mapping[Refusal, int]] = MappingProxyType(
    {
        "missing": CloseCode.UNAUTHORIZED,
        # a ?token= where NEXUS_AUTH_QUERY_TOKEN is off: a client to reconfigure, not an attack
        "token_in_url": CloseCode.UNAUTHORIZED,
        # not a JWT at all, or too large to be one
        "malformed": CloseCode.UNAUTHORIZED,
        "bad_algorithm": CloseCode.UNAUTHORIZED,
        "bad_signature": CloseCode.UNAUTHORIZED,
        "missing_claim": CloseCode.UNAUTHORIZED,
        # a time that is not a number, campaigns that are not strings
        "invalid_claim": CloseCode.UNAUTHORIZED,
        "wrong_audience": CloseCode.UNAUTHORIZED,
        "wrong_issuer": CloseCode.UNAUTHORIZED,
        "subject_mismatch": CloseCode.UNAUTHORIZED,
        "expired": CloseCode.UNAUTHORIZED,
        # nbf or iat ahead of the gateway's clock (beyond the leeway): clock skew, mostly
        "not_yet_valid": CloseCode.UNAUTHORIZED,
        "no_campaigns": CloseCode.FORBIDDEN,
        "campaign_forbidden": CloseCode.FORBIDDEN,
    }
)
_Fail = Callable[[Refusal, str], "AuthError"]


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated connection's identity.

    ``campaigns`` is ``None`` when the token grants every campaign (``"*"``).
    ``token_subprotocol`` is the ``bearer.<jwt>`` subprotocol the client offered, if any: the
    handshake response must select it, or browsers abort the connection.
    """

    user_id: str
    campaigns: frozenset[str] | None
    expires_at: int | None
    token_subprotocol: str | None

    def allows(self, campaign_id: str) -> bool:
        return self.campaigns is None or campaign_id in self.campaigns


class AuthError(NexusError):
    """The connection must be closed with ``close_code`` (4001 or 4003) and ``reason``.

    ``reason`` is short, public and never contains the token; ``kind`` is its label from
    :data:`REFUSAL_CODES`, which fixes the close code. ``token_subprotocol`` is the offered
    ``bearer.<jwt>`` subprotocol: a browser only sees the close code if the handshake that
    precedes the close selected it.
    """

    def __init__(self, kind: Refusal, reason: str, *, token_subprotocol: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.close_code = REFUSAL_CODES[kind]
        self.reason = reason
        self.token_subprotocol = token_subprotocol


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # aiohttp's headers are case-insensitive already; plain dicts (tests, other servers) are not.
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


class Authenticator:
    """Checks each connection's token against the configuration; built once per gateway.

    The configuration is validated here, so a gateway that cannot verify tokens does not start.
    """

    def __init__(self, settings: NexusSettings, *, leeway_s: float = DEFAULT_LEEWAY_S) -> None:
        self.disabled = settings.auth == "none"
        self._leeway_s = leeway_s
        self._query_tokens = settings.auth_query_token
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._keys: dict[str, list[bytes | PublicKey]] = {}
        if not self.disabled:
            self._keys = self._verification_keys(settings)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @staticmethod
    def _verification_keys(settings: NexusSettings) -> dict[str, list[bytes | PublicKey]]:
        if not settings.jwt_algorithms:
            raise ConfigurationError("NEXUS_JWT_ALGORITHMS must list at least one algorithm")
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
        previous = (
            settings.jwt_previous_secret.get_secret_value() if settings.jwt_previous_secret else ""
        )
        pem = settings.jwt_public_key.get_secret_value() if settings.jwt_public_key else ""
        public_keys = load_public_keys(pem) if pem.strip() else []
        # The keys of each algorithm, fixed here: a token's header chooses among the
        # configured algorithms but can never make an HMAC check run with a public key as its
        # secret. More than one only during a rotation (old and new key).
        keys: dict[str, list[bytes | PublicKey]] = {}
        for name in settings.jwt_algorithms:
            check_algorithm(name, "NEXUS_JWT_ALGORITHMS")
            if is_asymmetric(name):
                fitting = [key for key in public_keys if fits(name, key)]
                if not fitting:
                    raise ConfigurationError(
                        f"NEXUS_AUTH=jwt with {name} in NEXUS_JWT_ALGORITHMS needs "
                        f"NEXUS_JWT_PUBLIC_KEY (PEM) with a key for {name}"
                        + (f" ({key_kind(public_keys[0])} given)" if public_keys else "")
                    )
                for key in fitting:
                    check_asymmetric_key(name, key, "NEXUS_JWT_PUBLIC_KEY")
                keys[name] = list(fitting)
            else:
                if not secret:
                    raise ConfigurationError(
                        f"NEXUS_AUTH=jwt with {name} in NEXUS_JWT_ALGORITHMS needs NEXUS_JWT_SECRET"
                    )
                keys[name] = [hmac_key(name, secret, "NEXUS_JWT_SECRET")]
                if previous:
                    keys[name].append(hmac_key(name, previous, "NEXUS_JWT_PREVIOUS_SECRET"))
        unused = [
            index
            for index, key in enumerate(public_keys)
            if not any(key in candidates for candidates in keys.values())
        ]
        if unused:
            raise ConfigurationError(
                f"NEXUS_JWT_PUBLIC_KEY: key {unused[0] + 1} of {len(public_keys)} "
                f"({key_kind(public_keys[unused[0]])}) fits none of NEXUS_JWT_ALGORITHMS"
            )
        return keys

    def startup_warning(self) -> str | None:
        """The warning the gateway must log at start, or ``None`` when auth is on."""
        if not self.disabled:
            return None
        return (
            "NEXUS_AUTH=none: authentication is DISABLED; every connection is accepted as the "
            "user in its path, for every campaign. Use this only for local development."
        )

    def valid_until(self, principal: Principal) -> float | None:
        """When (epoch seconds) an open connection of ``principal`` stops being authorized:
        its token's ``exp`` with the same leeway as at the handshake; None without ``exp``."""
        if self.disabled or principal.expires_at is None:
            return None
        return principal.expires_at + self._leeway_s

    @staticmethod
    def extract_token(
        headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        """Return ``(token, subprotocol)`` from the request.

        The token comes from the first place that has one: ``Authorization: Bearer``, then
        the ``bearer.<jwt>`` subprotocol, then ``?token=``. ``subprotocol`` is the exact
        ``bearer.`` entry offered, whichever place supplied the token, because the handshake
        must echo an offered subprotocol in any case.
        """
        token: str | None = None
        authorization = _header(headers, "Authorization")
        if authorization:
            scheme, _, credentials = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                token = credentials.strip()

        subprotocol: str | None = None
        offered = _header(headers, "Sec-WebSocket-Protocol")
        if offered:
            for entry in offered.split(","):
                entry = entry.strip()
                if entry.lower().startswith(SUBPROTOCOL_PREFIX) and len(entry) > len(
                    SUBPROTOCOL_PREFIX
                ):
                    subprotocol = entry
                    break
        if token is None and subprotocol is not None:
            token = subprotocol[len(SUBPROTOCOL_PREFIX) :]

        if token is None:
            token = query.get("token") or None
        return token, subprotocol

    def authenticate(
        self,
        *,
        campaign_id: str,
        user_id: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        now: float | None = None,
    ) -> Principal:
        """The principal allowed to open ``/ws/{campaign_id}/{user_id}``, or :class:`AuthError`."""
        token, subprotocol = self.extract_token(headers, query)
        if self.disabled:
            return Principal(
                user_id=user_id, campaigns=None, expires_at=None, token_subprotocol=subprotocol
            )

        def fail(kind: Refusal, reason: str) -> AuthError:
            return AuthError(kind, reason, token_subprotocol=subprotocol)

        if token is None:
            raise fail("missing", "missing token")
        if not self._query_tokens and token == query.get("token"):
            raise fail(
                "token_in_url",
                "tokens in the URL are refused here (they end up in proxies' logs): send it "
                "as Authorization: Bearer or the bearer.<jwt> subprotocol",
            )
        if len(token) > _MAX_TOKEN_CHARS:
            raise fail("malformed", "token too large")
        # A compact JWS is base64url and dots; anything else (lone surrogates from a decoded
        # query string, for one) would otherwise surface as encoding errors inside PyJWT.
        if not token.isascii():
            raise fail("malformed", "malformed token")
        claims = self._verify(token, user_id, fail)
        expires_at = self._check_times(claims, time.time() if now is None else now, fail)
        campaigns = self._campaigns(claims, fail)
        if campaigns is not None and campaign_id not in campaigns:
            raise fail("campaign_forbidden", "campaign not allowed by token")
        return Principal(
            user_id=user_id,
            campaigns=campaigns,
            expires_at=expires_at,
            token_subprotocol=subprotocol,
        )

    def _verify(self, token: str, user_id: str, fail: _Fail) -> dict[str, Any]:
        # PyJWT's messages are not shown to clients: reasons below are fixed strings, so
        # nothing derived from the token reaches a close frame or a log line.
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except (jwt.PyJWTError, ValueError):
            raise fail("malformed", "malformed token") from None
        if not isinstance(algorithm, str) or algorithm not in self._keys:
            raise fail("bad_algorithm", "token algorithm not accepted")
        try:
            claims = self._decode(token, algorithm)
        except jwt.InvalidSignatureError:
            raise fail("bad_signature", "invalid token signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise fail("missing_claim", f"token lacks the {exc.claim} claim") from None
        except jwt.InvalidAudienceError:
            raise fail("wrong_audience", "token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise fail("wrong_issuer", "token issuer not accepted") from None
        except jwt.InvalidAlgorithmError:
            raise fail("bad_algorithm", "token algorithm not accepted") from None
        except (jwt.PyJWTError, ValueError):
            raise fail("malformed", "malformed token") from None
        # Checked here, with its own refusal reason (subject_mismatch), rather than by PyJWT,
        # whose error would be one more InvalidTokenError among the rest.
        if claims.get("sub") != user_id:
            raise fail("subject_mismatch", "token subject does not match the user")
        return claims

    def _decode(self, token: str, algorithm: str) -> dict[str, Any]:
        """The token's claims, verified with the first of the algorithm's keys that its
        signature matches (one key but during a rotation)."""
        keys = self._keys[algorithm]
        for index, key in enumerate(keys):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    options={
                        "require": ["exp", "sub"],
                        # Times are checked in _check_times against the caller's clock.
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "enforce_minimum_key_length": True,
                    },
                )
            except jwt.InvalidSignatureError:
                if index == len(keys) - 1:
                    raise
                continue
            return claims
        raise jwt.InvalidSignatureError  # no key: unreachable, every algorithm has one

    def _check_times(self, claims: Mapping[str, Any], now: float, fail: _Fail) -> int:
        def number(name: str) -> float | None:
            value = claims.get(name)
            if value is None:
                return None
            # bool is an int in Python but not a NumericDate in JSON; Python's JSON parser
            # also yields NaN and infinity, and NaN would pass every comparison below.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail("invalid_claim", f"token {name} claim is not a number")
            try:
                # An integer beyond a float's range raises here rather than reading as inf.
                finite = math.isfinite(value)
            except OverflowError:
                finite = False
            if not finite:
                raise fail("invalid_claim", f"token {name} claim is not a number")
            return float(value)

        exp = number("exp")
        if exp is None:
            raise fail("missing_claim", "token lacks the exp claim")
        if exp <= now - self._leeway_s:
            raise fail("expired", "token expired")
        nbf = number("nbf")
        if nbf is not None and nbf > now + self._leeway_s:
            raise fail("not_yet_valid", "token not yet valid")
        iat = number("iat")
        if iat is not None and iat > now + self._leeway_s:
            raise fail("not_yet_valid", "token issued in the future")
        return int(exp)

    @staticmethod
    def _campaigns(claims: Mapping[str, Any], fail: _Fail) -> frozenset[str] | None:
        value = claims.get("campaigns")
        if value is None:
            raise fail("no_campaigns", "token grants no campaigns")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise fail("invalid_claim", "token campaigns claim is not a list of strings")
        if ALL_CAMPAIGNS in value:
            return None
        return frozenset(value)


def issue_token(
    *,
    secret_or_key: str,
    user_id: str,
    campaigns: Sequence[str],
    ttl_s: int,
    algorithm: str = "HS256",
    audience: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a token the gateway accepts for ``user_id`` on ``campaigns`` (``"*"``: all).

    ``secret_or_key`` is the HMAC secret for HS* algorithms or a PEM private key otherwise.
    Raises :class:`ConfigurationError` for an unusable key, algorithm or lifetime.
    """
    if not user_id:
        raise ConfigurationError("the token needs a user id")
    if ttl_s <= 0:
        raise ConfigurationError(f"the token lifetime must be positive, not {ttl_s} s")
    check_algorithm(algorithm, "the algorithm")
    key: bytes | PrivateKey
    if is_asymmetric(algorithm):
        key = load_private_key(secret_or_key)
        check_asymmetric_key(algorithm, key, "the private key")
    else:
        if not secret_or_key:
            raise ConfigurationError(f"{algorithm} needs a secret")
        key = hmac_key(algorithm, secret_or_key, "the secret")
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": user_id,
        # A lone string is one campaign, not a sequence of one-letter campaigns.
        "campaigns": [campaigns] if isinstance(campaigns, str) else list(campaigns),
        "iat": issued_at,
        "exp": issued_at + ttl_s,
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, key, algorithm=algorithm)
