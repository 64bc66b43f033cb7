"""Random byte-level damage to valid records, for the fuzz tests."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


def mutations(
    values: Sequence[bytes], *, count: int, most_edits: int, seed: int
) -> Iterator[bytes]:
    """``count`` copies of values picked from ``values``, each with 1 to ``most_edits``
    single-byte edits: a byte overwritten (60%), deleted (20%) or inserted (20%). The same
    ``seed`` gives the same mutations."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(rng.choice(values))
        for _ in range(rng.randint(1, most_edits)):
            position = rng.randrange(len(data))
            action = rng.random()
            if action < 0.6:
                data[position] = rng.randrange(256)
            elif action < 0.8:
                del data[position]
            else:
                data.insert(position, rng.randrange(256))
        yield bytes(data)
