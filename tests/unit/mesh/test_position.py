"""Resume positions survive a round trip and anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_mesh.position import Position


@given(
    partitions=st.integers(1, 10_000),
    data=st.data(),
    offset=st.integers(0, 2**62),
    system=st.lists(st.integers(0, 2**62), max_size=8),
)
def test_round_trip(partitions: int, data: st.DataObject, offset: int, system: list[int]) -> None:
    partition = data.draw(st.integers(0, partitions - 1))
    position = Position(
        partitions=partitions, partition=partition, offset=offset, system=tuple(system)
    )
    assert Position.decode(position.encode()) == position


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v1",
        "v2.4.1.10.0",
        "v1.4.4.10.0",
        "v1.0.0.0.",
        "v1.4.1.-3.0",
        "v1.4.1.x.0",
        "v1.4.1.3.0--1",
        "v1.4.1.3.0.9",
        "v1." + "9" * 600,
    ],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Nexus Mesh position"):
        Position.decode(text)
