"""``nexus token``: sign a development token the gateway accepts.

Only the token goes to stdout, so ``TOKEN=$(nexus token --user alice --campaign demo)`` works.
Algorithm, audience and issuer default to the gateway's ``NEXUS_JWT_*`` settings so that a
token made in the same environment is accepted without further flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.settings import NexusSettings, load_settings

_DEFAULT_TTL_S = 3600


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def register(subparsers: Any) -> None:
    token = subparsers.add_parser(
        "token",
        help="print a signed development token for the gateway",
        description="Print a JWT for `/ws/{campaign}/{user}`; only the token goes to stdout.",
    )
    token.add_argument("--user", required=True, help="the token's subject (the path's user id)")
    token.add_argument(
        "--campaign",
        dest="campaigns",
        action="append",
        metavar="CAMPAIGN",
        help="a campaign the token allows; repeat for several (default: '*', every campaign)",
    )
    token.add_argument(
        "--ttl",
        type=_positive_int,
        default=_DEFAULT_TTL_S,
        help=f"lifetime in seconds (default: {_DEFAULT_TTL_S})",
    )
    keys = token.add_mutually_exclusive_group()
    keys.add_argument(
        "--secret",
        help="HMAC secret for HS* (default: $NEXUS_JWT_SECRET; prefer the variable, since "
        "arguments show up in shell history and process lists)",
    )
    keys.add_argument(
        "--private-key",
        type=Path,
        metavar="FILE",
        help="PEM private key file for RS*/PS*/ES*/EdDSA",
    )
    token.add_argument(
        "--algorithm",
        help="signing algorithm (default: the key's natural one, else the first HS* of "
        "NEXUS_JWT_ALGORITHMS, else HS256)",
    )
    token.add_argument("--audience", help="aud claim (default: $NEXUS_JWT_AUDIENCE)")
    token.add_argument("--issuer", help="iss claim (default: $NEXUS_JWT_ISSUER)")
    token.set_defaults(handler=_token)


def make_token(args: argparse.Namespace, settings: NexusSettings) -> str:
    """The token ``nexus token`` prints for ``args``; raises :class:`ConfigurationError`."""
    from nexus_gateway.auth import issue_token

    if args.private_key is not None:
        try:
            key_text = args.private_key.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"--private-key {args.private_key}: cannot read it ({exc})"
            ) from None
        algorithm = args.algorithm or _algorithm_for_private_key(key_text)
        if algorithm.startswith("HS"):
            raise ConfigurationError(f"--private-key cannot sign {algorithm}; use --secret")
    else:
        algorithm = args.algorithm or next(
            (name for name in settings.jwt_algorithms if name.startswith("HS")), "HS256"
        )
        if not algorithm.startswith("HS"):
            raise ConfigurationError(f"{algorithm} needs --private-key FILE")
        key_text = args.secret or (
            settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
        )
        if not key_text:
            raise ConfigurationError(
                "no signing secret: set NEXUS_JWT_SECRET (or pass --secret, or --private-key "
                "FILE for RS*/ES*)"
            )
    return issue_token(
        secret_or_key=key_text,
        user_id=args.user,
        campaigns=args.campaigns or ["*"],
        ttl_s=args.ttl,
        algorithm=algorithm,
        audience=args.audience if args.audience is not None else settings.jwt_audience,
        issuer=args.issuer if args.issuer is not None else settings.jwt_issuer,
    )


def _algorithm_for_private_key(pem: str) -> str:
    from nexus_gateway.jwt_keys import default_algorithm, load_private_key

    try:
        key = load_private_key(pem)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--private-key: {exc}") from None
    algorithm = default_algorithm(key)
    if algorithm is None:
        raise ConfigurationError("--private-key: cannot tell its algorithm; pass --algorithm")
    return algorithm


def _token(args: argparse.Namespace) -> int:
    print(make_token(args, load_settings()))
    return 0
