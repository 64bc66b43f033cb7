"""``nexus topics ensure``: create the mesh's topics from configuration, idempotently."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from nexus_mesh.kafka.topics import ensure_topics
from nexus_mesh.settings import load_settings


def register(subparsers: Any) -> None:
    topics = subparsers.add_parser("topics", help="manage the mesh's Kafka topics")
    actions = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    ensure = actions.add_parser(
        "ensure",
        help="create missing topics; fail on fewer partitions than configured (and on any "
        "other count for the clients and system topics) and on a clients topic keeping less "
        "than 24 h; warn on more partitions, a lower replication factor, other retention or "
        "min ISR differences",
    )
    ensure.set_defaults(handler=_ensure)


def _ensure(args: argparse.Namespace) -> int:
    from nexus_mesh.registry import load_registry

    settings = load_settings()
    registry = load_registry(settings.schemas_dir)
    report = asyncio.run(ensure_topics(settings, registry.domains))
    for name in report.created:
        print(f"created {name}")
    for name in report.existing:
        print(f"exists  {name}")
    # stderr, like every other diagnostic: stdout stays the list of topics.
    for warning in report.warnings:
        print(f"nexus: warning: {warning}", file=sys.stderr)
    return 0
