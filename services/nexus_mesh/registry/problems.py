"""``Problems``: what the registry checks found wrong, collected before failing."""

from __future__ import annotations


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append(f"{where}: {reason}")
