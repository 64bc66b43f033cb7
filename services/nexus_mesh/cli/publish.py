"""``nexus publish TYPE``: validate one event against the registry and produce it.

Prints ``topic partition offset event_id`` once Kafka acknowledged the write. Nothing is sent
when the type is unknown or the payload does not match its schema; the message names the
offending field. Nor when the topic does not exist: creating it is `nexus topics ensure`'s job.

A failure that may have written the record prints the event_id that was tried (Kafka not
answering in time does not mean it lost the record), and ``--event-id`` sends the retry
under the same id, by which services deduplicate (DESIGN.md section 2). Events bound for
clients are not deduplicated on the way: a retry of one that had landed is delivered twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexus_mesh.service.publisher import Published


_DEFAULT_SOURCE = "nexus-cli"
_PATH_ID_RULE = (
    "use 1 to 128 letters, digits, '.', '_', ':', '@' or '-' (as the gateway accepts ids "
    "in /ws/{campaign_id}/{user_id})"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="produce one validated envelope",
        description="Validate an event against the schema registry and write it to the topic "
        "the manifest names for its type (or to <prefix>.system with --broadcast).",
    )
    parser.add_argument("type", metavar="TYPE", help="event type, e.g. search.requested")
    parser.add_argument(
        "--campaign", help="campaign id (the record key); required unless --broadcast"
    )
    parser.add_argument("--user", help="target user id (metadata.user_id)")
    parser.add_argument("--connection", help="target connection id (metadata.connection_id)")
    parser.add_argument("--correlation", help="correlation id (metadata.correlation_id)")
    parser.add_argument(
        "--event-id",
        help="metadata.event_id (default: a new one); pass the id a failed attempt printed "
        "to retry it without services handling the event twice (clients get a retried "
        "event again if the first attempt had landed)",
    )
    parser.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata attribute; repeat for several",
    )
    parser.add_argument("--source", default=_DEFAULT_SOURCE, help="metadata.source")
    payload = parser.add_mutually_exclusive_group()
    payload.add_argument("--payload", help="payload as a JSON object (default: {})")
    payload.add_argument(
        "--payload-file", type=Path, metavar="FILE", help="read the JSON payload from FILE"
    )
    parser.add_argument(
        "--broadcast",
        action="store_true",
        help="send to <prefix>.system: every connection of every campaign (campaign '*'; "
        "no --campaign, --user or --connection, which gateways would refuse)",
    )
    parser.set_defaults(handler=_publish)


def _payload(args: argparse.Namespace) -> dict[str, Any]:
    import orjson

    from nexus_mesh.errors import ConfigurationError

    if args.payload_file is not None:
        try:
            text = args.payload_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"--payload-file {args.payload_file}: {exc}") from None
        origin = f"--payload-file {args.payload_file}"
    elif args.payload is not None:
        text, origin = args.payload.encode(), "--payload"
    else:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"{origin} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{origin} must be a JSON object")
    return value


def _attributes(pairs: list[str]) -> dict[str, str]:
    from nexus_mesh.errors import ConfigurationError

    attributes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--attribute {pair!r} is not KEY=VALUE")
        attributes[key] = value
    return attributes


def _check_ids(args: argparse.Namespace, campaign: str) -> None:
    """Raise ConfigurationError for an id no gateway connection can have: written anyway, the
    event would reach nobody, and nothing would say so."""
    from nexus_gateway.protocol import CONNECTION_ID_RE, owns_connection_id
    from nexus_mesh.envelope import PATH_ID_RE
    from nexus_mesh.errors import ConfigurationError

    if args.broadcast and (args.campaign or args.user or args.connection):
        # Gateways skip a broadcast that names anyone in particular (it would reach every
        # tenant): written, it would reach nobody.
        raise ConfigurationError(
            "--broadcast goes to every connection: it takes no --campaign, --user or "
            "--connection (publish to a campaign instead)"
        )
    # A broadcast's campaign is "*", which no path may name.
    if not args.broadcast and not PATH_ID_RE.fullmatch(campaign):
        raise ConfigurationError(f"--campaign {campaign!r}: {_PATH_ID_RULE}")
    if args.user is not None and not PATH_ID_RE.fullmatch(args.user):
        raise ConfigurationError(f"--user {args.user!r}: {_PATH_ID_RULE}")
    connection = args.connection
    if connection is None:
        return
    if not CONNECTION_ID_RE.fullmatch(connection):
        raise ConfigurationError(
            f"--connection {connection!r}: not a connection id (32 lowercase hex digits, as "
            "the gateway gives them in nexus.welcome)"
        )
    # The gateway tags each id with its connection's campaign and user, and routes an event
    # naming a user only to that user's connections.
    user = args.user
    if (
        not args.broadcast
        and user is not None
        and not owns_connection_id(connection, campaign, user)
    ):
        raise ConfigurationError(
            f"--connection {connection!r} is not a connection of user {user!r} in "
            f"campaign {campaign!r}"
        )


def _publish(args: argparse.Namespace) -> int:
    from nexus_mesh.envelope import BROADCAST_CAMPAIGN, CLIENT_ID_RE, new_event_id
    from nexus_mesh.errors import (
        ConfigurationError,
        NexusError,
        PayloadInvalidError,
        TopicMissingError,
        UnknownTypeError,
    )

    if args.event_id is not None and not CLIENT_ID_RE.fullmatch(args.event_id):
        raise ConfigurationError(
            f"--event-id {args.event_id!r}: use 1 to 128 letters, digits, '.', '_', ':' or '-'"
        )
    # Chosen before anything can fail, so that every failure can name it.
    event_id: str = args.event_id or new_event_id()
    retry = f"event_id {event_id}; to retry it, pass --event-id {event_id}"
    try:
        campaign = args.campaign or (BROADCAST_CAMPAIGN if args.broadcast else None)
        if not campaign:
            raise ConfigurationError("--campaign is required (or --broadcast)")
        _check_ids(args, campaign)
        payload = _payload(args)
        attributes = _attributes(args.attribute)
        published = asyncio.run(_send(args, event_id, campaign, payload, attributes))
    except (UnknownTypeError, PayloadInvalidError) as exc:
        # Refused before anything was sent: a retry of the same input cannot help.
        print(f"nexus publish: {args.type}: {exc}", file=sys.stderr)
        return 1
    except NexusError as exc:
        # Bad input is refused before anything is sent: retrying it as it is cannot help.
        # Everything else (a missing topic, Kafka not answering) is worth retrying as the same
        # event.
        bad_input = isinstance(exc, ConfigurationError) and not isinstance(exc, TopicMissingError)
        print(f"nexus publish: {exc}" + ("" if bad_input else f" ({retry})"), file=sys.stderr)
        # The exit statuses of `nexus` itself: 2 for what the user must fix first.
        return 2 if isinstance(exc, ConfigurationError) else 1
    except BaseException:
        # A bug or Ctrl-C, possibly mid-write: the traceback follows, the id must not be lost.
        print(f"nexus publish: failed ({retry})", file=sys.stderr)
        raise
    print(f"{published.topic} {published.partition} {published.offset} {published.event_id}")
    return 0


async def _send(
    args: argparse.Namespace,
    event_id: str,
    campaign: str,
    payload: dict[str, Any],
    attributes: dict[str, str],
) -> Published:
    from nexus_mesh.codec import Codec
    from nexus_mesh.kafka.producer import EnvelopeProducer
    from nexus_mesh.kafka.topics import TopicNames
    from nexus_mesh.registry import load_registry
    from nexus_mesh.service.publisher import EventFactory, Published
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    events = EventFactory(
        registry=registry,
        codec=codec,
        topics=TopicNames(prefix=settings.topic_prefix),
        source=args.source,
    )
    # Validate before connecting: a bad event fails fast and never reaches Kafka.
    topic = events.topic_of(args.type, broadcast=args.broadcast)
    envelope = events.envelope(
        args.type,
        payload,
        campaign_id=campaign,
        user_id=args.user,
        connection_id=args.connection,
        correlation_id=args.correlation,
        attributes=attributes,
        event_id=event_id,
    )
    producer = EnvelopeProducer(settings=settings, codec=codec, client_id="nexus-publish")
    try:
        # Stopped even when start fails, or the failure ends in an "Unclosed" warning.
        await producer.start()
        written = await producer.send(envelope, topic=topic)
    finally:
        await producer.stop()
    return Published(
        event_id=envelope.metadata.event_id,
        topic=written.topic,
        partition=written.partition,
        offset=written.offset,
    )
