"""``nexus schemas check [--dir DIR] [--against DIR]``: the registry's CI gate, and
``nexus schemas lock [--dir DIR]``: record the fingerprints of new versions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nexus_mesh.errors import RegistryError
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.registry.compatibility import changed_in_place, compatibility_problems
from nexus_mesh.registry.fingerprints import LOCK_NAME, lock, lock_problems


def register(subparsers: Any) -> None:
    schemas = subparsers.add_parser("schemas", help="validate the schema registry directory")
    actions = schemas.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate every schema and the manifest; reject incompatible or edited versions",
    )
    check.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="registry to check (default: NEXUS_SCHEMAS_DIR, else the shipped schemas/)",
    )
    check.add_argument(
        "--against",
        type=Path,
        default=None,
        metavar="DIR",
        help="the published registry (e.g. main's schemas/): its versions must be unchanged",
    )
    check.set_defaults(handler=_check)
    record = actions.add_parser(
        "lock",
        help=f"record the fingerprints of versions not yet in {LOCK_NAME}",
        description=f"Add every schema version not yet in {LOCK_NAME} to it. A recorded "
        "version is never changed: one that was edited or removed is reported instead.",
    )
    record.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="registry (default: NEXUS_SCHEMAS_DIR, else the shipped schemas/)",
    )
    record.set_defaults(handler=_lock)


def _check(args: argparse.Namespace) -> int:
    directory = _directory(args)
    registry, problems = _load(directory, "")
    if registry is not None:
        problems.extend(compatibility_problems(registry))
        problems.extend(lock_problems(registry))
        if args.against is not None:
            published, against_problems = _load(args.against, "--against: ")
            problems.extend(against_problems)
            if published is not None:
                problems.extend(changed_in_place(registry, published))
    if problems:
        print(f"nexus schemas check: {directory}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    assert registry is not None
    types = list(registry.types())
    versions = sum(len(t.versions) for t in types) + len(registry.envelope_versions)
    print(
        f"schemas OK: {directory}: {len(types)} event types, {versions} schema versions, "
        f"{len(registry.flows)} flow(s)"
        + (f"; published versions in {args.against} unchanged" if args.against else "")
    )
    return 0


def _lock(args: argparse.Namespace) -> int:
    directory = _directory(args)
    registry, problems = _load(directory, "")
    added: list[str] = []
    if registry is not None:
        # Only what `check` would accept is published.
        problems = compatibility_problems(registry)
    if registry is not None and not problems:
        added, problems = lock(registry)
    if problems:
        print(f"nexus schemas lock: {directory}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    for file in added:
        print(f"recorded {file}")
    print(f"{directory / LOCK_NAME}: {len(added) or 'no'} new version(s) recorded")
    return 0


def _directory(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    from nexus_mesh.settings import load_settings

    return load_settings().schemas_dir


def _load(directory: Path, prefix: str) -> tuple[Registry | None, list[str]]:
    try:
        return load_registry(directory), []
    except RegistryError as exc:
        return None, [prefix + problem for problem in exc.problems]
