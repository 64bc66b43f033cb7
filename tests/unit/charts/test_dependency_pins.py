"""constraints.txt pins what CI, ``make dev`` and the image install (`make lock` writes it).

A dependency added to or changed in pyproject.toml without ``make lock`` would install
unpinned, or not at all where the pin contradicts the new range: these checks name it.
"""

from __future__ import annotations

import re
import tomllib

from helm_chart import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = REPO / "pyproject.toml"
LOCK = REPO / "constraints.txt"


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert match, f"constraints.txt: {line!r} is not a `name==version` pin"
        name = canonicalize_name(match[1])
        assert name not in found, f"constraints.txt pins {name} twice"
        found[name] = match[2]
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(text) for text in listed]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt pins {name}=={locked[name]}, outside {requirement}: run `make lock`"
        )


def test_the_pins_are_written_by_make_lock() -> None:
    # The header is the command that writes them, so a reader knows how to change a pin.
    assert "#    make lock" in LOCK.read_text()
    assert canonicalize_name("PyJWT") in pins() and "cryptography" in pins()  # extras resolved
