"""Which fetched record may start, and where a partition may be committed."""

from __future__ import annotations

import asyncio
from typing import cast

from aiokafka import ConsumerRecord, TopicPartition

from nexus_mesh.service.lanes import PartitionLane

TP = TopicPartition("nexus.search", 0)


def record(offset: int, campaign: str | None) -> ConsumerRecord[bytes, bytes]:
    key = campaign.encode() if campaign is not None else None
    return ConsumerRecord(
        topic=TP.topic,
        partition=TP.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=b"",
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[],
    )


def start_all(lane: PartitionLane) -> list[ConsumerRecord[bytes, bytes]]:
    """Start what may start, as the runner does, with a stand-in for the handler's task."""
    started = []
    while (taken := lane.take()) is not None:
        lane.started(taken, cast("asyncio.Task[None]", object()))
        started.append(taken)
    return started


def offsets(records: list[ConsumerRecord[bytes, bytes]]) -> list[int]:
    return [r.offset for r in records]


def test_one_record_per_campaign_starts_and_the_next_follows_its_finish() -> None:
    lane = PartitionLane(TP, max_ahead=100)
    a1, b1, a2, c1, b2 = (
        record(10, "a"),
        record(11, "b"),
        record(12, "a"),
        record(13, "c"),
        record(14, "b"),
    )
    lane.add([a1, b1, a2, c1, b2])
    assert offsets(start_all(lane)) == [10, 11, 13]  # a2 and b2 wait behind their campaign
    assert lane.waiting == 2
    lane.finished(b1, dealt=True)
    assert offsets(start_all(lane)) == [14]
    lane.finished(a1, dealt=True)
    assert offsets(start_all(lane)) == [12]
    assert lane.waiting == 0


def test_the_commit_point_is_the_oldest_record_not_dealt_with() -> None:
    lane = PartitionLane(TP, max_ahead=100)
    assert lane.commit_point() is None  # nothing fetched: nothing to commit
    a1, b1, c1 = record(5, "a"), record(6, "b"), record(7, "c")
    lane.add([a1, b1, c1])
    start_all(lane)
    assert lane.commit_point() == 5
    lane.finished(c1, dealt=True)
    lane.finished(b1, dealt=True)
    assert lane.commit_point() == 5  # done out of order: 6 and 7 wait for 5
    lane.finished(a1, dealt=True)
    assert lane.commit_point() == 8
    lane.add([record(8, "a")])
    assert lane.commit_point() == 8


def test_a_record_given_up_holds_its_campaign_and_the_commit() -> None:
    lane = PartitionLane(TP, max_ahead=100)
    a1, a2, b1, b2 = record(0, "a"), record(1, "a"), record(2, "b"), record(3, "b")
    lane.add([a1, a2, b1, b2])
    start_all(lane)
    lane.finished(a1, dealt=False)  # abandoned at a rebalance, or cancelled
    lane.finished(b1, dealt=True)
    assert offsets(start_all(lane)) == [3]  # a2 must not pass a1
    lane.finished(b2, dealt=True)
    assert lane.commit_point() == 0
    assert lane.waiting == 1


def test_a_closed_lane_starts_nothing() -> None:
    lane = PartitionLane(TP, max_ahead=100)
    lane.add([record(0, "a")])
    lane.open = False
    assert lane.take() is None
    assert not lane.is_open()


def test_records_without_a_key_are_one_campaign() -> None:
    lane = PartitionLane(TP, max_ahead=100)
    first, second = record(0, None), record(1, None)
    lane.add([first, second])
    assert offsets(start_all(lane)) == [0]
    lane.finished(first, dealt=True)
    assert offsets(start_all(lane)) == [1]


def test_no_more_than_max_ahead_start_past_the_oldest_not_dealt_with() -> None:
    lane = PartitionLane(TP, max_ahead=3)
    stuck, *others = [record(0, "stuck")] + [record(n, f"c{n}") for n in range(1, 6)]
    lane.add([stuck, *others])
    assert offsets(start_all(lane)) == [0, 1, 2]
    assert lane.held and lane.ahead() == 3
    for done in others[:2]:
        lane.finished(done, dealt=True)
    assert lane.held and lane.take() is None  # dealt with, but not committable past 0
    lane.finished(stuck, dealt=True)
    assert lane.commit_point() == 3 and not lane.held
    assert offsets(start_all(lane)) == [3, 4, 5]


def test_the_record_a_lane_at_its_limit_waits_for_can_always_start() -> None:
    """Campaign k's five records, then z's: k's first and z's start (z is within reach then),
    six offsets past the commit point. When k's first is done, k's second is the commit
    point, waiting, with the lane still at its limit: it must start, or nothing ever would."""
    lane = PartitionLane(TP, max_ahead=5)
    ks = [record(n, "k") for n in range(5)]
    z = record(5, "z")
    lane.add([*ks, z])
    assert offsets(start_all(lane)) == [0]  # z at 5 is not within 5 of offset 0
    lane.finished(ks[0], dealt=True)
    assert sorted(offsets(start_all(lane))) == [1, 5]
    lane.finished(z, dealt=True)
    lane.finished(ks[1], dealt=True)
    assert offsets(start_all(lane)) == [2]
    assert lane.commit_point() == 2


def test_far_records_wait_while_near_ones_start() -> None:
    """Ready campaigns are taken longest-ready first, but one whose next record lies past
    the limit lets a nearer one go first."""
    lane = PartitionLane(TP, max_ahead=3)
    stuck, far, near = record(0, "stuck"), record(1, "far"), record(2, "near")
    lane.add([stuck, far, near])
    start_all(lane)
    lane.finished(far, dealt=True)
    lane.add([record(3, "far"), record(4, "near")])
    lane.finished(near, dealt=True)
    assert offsets(start_all(lane)) == []  # 3 and 4 are 3 or more past offset 0
    assert lane.held
    lane.finished(stuck, dealt=True)
    assert offsets(start_all(lane)) == [3, 4]
