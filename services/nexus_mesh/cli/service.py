"""``nexus service NAME``: run one backend service until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

# Service name -> module with ``async def run(settings) -> None``; imported only when run.
SERVICES = {"search": "nexus_search.service"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "service",
        help="run a backend service (consumer group on its domain topic)",
        description="Run a backend service; it logs 'service NAME ready' once it has its "
        "partitions, and stops gracefully on SIGTERM or Ctrl-C.",
    )
    parser.add_argument("name", choices=sorted(SERVICES), help="which service")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import importlib

    from nexus_mesh.cli.heap import freeze_startup_heap
    from nexus_mesh.logs import configure_logging
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, fmt=settings.log_format, service=f"nexus-{args.name}")
    module = importlib.import_module(SERVICES[args.name])
    freeze_startup_heap()
    asyncio.run(module.run(settings))
    return 0
