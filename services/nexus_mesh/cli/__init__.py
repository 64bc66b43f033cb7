"""The ``nexus`` command: one entry point, one module per command group.

Each command module exposes ``register(subparsers)``; a command's handler returns the exit
status. Every :class:`~nexus_mesh.errors.NexusError` becomes a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from nexus_mesh.errors import ConfigurationError, NexusError
from nexus_mesh.settings import report_unknown_variables

_COMMAND_MODULES = (
    "dev",
    "kafka",
    "topics",
    "schemas",
    "token",
    "gateway",
    "service",
    "publish",
    "k8s",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="nexus", description="Nexus Mesh: a Kafka-backed WebSocket event mesh."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"nexus_mesh.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A one-shot command says what Kafka refused in one line of its own; without this,
    # Python's last-resort handler printed aiokafka's connection errors before it. Servers
    # set up logging (a root handler), which still shows them.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"nexus: {exc}", file=sys.stderr)
        return 2
    except NexusError as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        # A command that never set up logging still says which variables it ignored.
        report_unknown_variables()
    return status


if __name__ == "__main__":
    sys.exit(main())
