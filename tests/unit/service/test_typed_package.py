"""A service kept in a project of its own type-checks against the SDK, as PEP 561 asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GREETER = """\
from nexus_mesh.envelope import Envelope
from nexus_mesh.service import Context, Service, ServiceConfig

service = Service(name="greeter", config=ServiceConfig(max_concurrency=4))


@service.handler("greeter.requested")
async def greet(event: Envelope, ctx: Context) -> None:
    await ctx.reply("greeter.completed", {"text": "hello"})


def misuse() -> None:
    service.handler(42)  # a bad call the SDK's types must catch
"""


def test_mypy_strict_checks_a_service_against_the_sdk_types(tmp_path: Path) -> None:
    """mypy --strict, run from a directory of the author's own (none of this repository's
    settings or paths), finds the installed SDK typed: no "missing py.typed marker", no
    untyped decorator, and a wrong argument to the SDK is caught."""
    (tmp_path / "greeter.py").write_text(GREETER)
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            "greeter.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in found.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, found.stdout
    assert errors[0].startswith("greeter.py:13:") and "arg-type" in errors[0], found.stdout
