"""``nexus service NAME``: run one backend service until SIGTERM/SIGINT.

NAME is a service shipped with the mesh (``search``) or ``module:attribute`` naming a
:class:`~nexus_mesh.service.Service` of your own (or a function of no arguments returning
one), importable from the current directory or the environment: the same process set-up
(settings, logging, tracing, metrics) as the mesh's own services.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.settings import NexusSettings

# Service name -> module with ``async def run(settings) -> None``; imported only when run.
SERVICES = {"search": "nexus_search.service"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "service",
        help="run a backend service (consumer group on its domain topic)",
        description="Run a backend service; it logs 'service NAME ready' once it has its "
        "partitions, and stops gracefully on SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "name",
        metavar="NAME",
        help=f"{', '.join(sorted(SERVICES))}, or module:attribute naming a Service of yours",
    )
    parser.set_defaults(handler=_run)


def resolve(name: str) -> tuple[str, Callable[[NexusSettings], Coroutine[Any, Any, None]]]:
    """The service's name (for its logs) and the coroutine function that runs it."""
    if name in SERVICES:
        module = importlib.import_module(SERVICES[name])
        run: Callable[[NexusSettings], Coroutine[Any, Any, None]] = module.run
        return name, run
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"unknown service {name!r}: use {', '.join(sorted(SERVICES))}, or "
            "module:attribute naming a Service (e.g. greeter:service)"
        )
    from nexus_mesh.service import Service

    # As `python -m` would: a module in the current directory is found.
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"service {name!r}: {exc}") from exc
    if not isinstance(found, Service) and callable(found):
        found = found()
    if not isinstance(found, Service):
        raise ConfigurationError(
            f"service {name!r} is a {type(found).__name__}, not a nexus_mesh.service.Service"
        )
    return found.name, found.run


def _run(args: argparse.Namespace) -> int:
    from nexus_mesh.cli.heap import freeze_startup_heap
    from nexus_mesh.logs import configure_logging
    from nexus_mesh.settings import load_settings

    # The service's module first: settings of its own that it loads are then known.
    name, run = resolve(args.name)
    settings = load_settings()
    configure_logging(settings.log_level, fmt=settings.log_format, service=f"nexus-{name}")
    freeze_startup_heap()
    asyncio.run(run(settings))
    return 0
