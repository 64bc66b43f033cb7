"""Writing results into docs/benchmarks.md: number formatting and marked sections."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"


def fmt(value: float | None, spec: str = ".2f") -> str:
    """``value`` formatted with ``spec``; "n/a" for None and NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def section_head(begin_mark: str, title: str, command: str, machine: str) -> list[str]:
    """A generated section's first lines: its marker and title, the command, date, machine."""
    return [
        begin_mark,
        title,
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {machine}  ",
    ]


def write_section(doc: Path, section: str, begin_mark: str, end_mark: str) -> None:
    """Replace the section of ``doc`` between ``begin_mark`` and ``end_mark`` (both
    included) with ``section``, or append it when the markers are not there. One blank line
    separates it from what follows."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    begin, end = text.find(begin_mark), text.find(end_mark)
    if begin != -1 and end > begin:
        rest = text[end + len(end_mark) :].lstrip("\n")
        text = text[:begin] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
