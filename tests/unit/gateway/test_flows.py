"""A request's timeout, fired, is owed again to a resend of the request."""

from __future__ import annotations

import asyncio

import pytest

from nexus_gateway import flows as flows_module
from nexus_gateway.flows import FlowTracker, PendingRequest
from nexus_mesh.registry import Flow

FLOW = Flow(
    name="search",
    request="search.requested",
    replies=("search.completed",),
    timeout_ms=20,
    timeout_type="search.timeout",
)


def request(correlation_id: str = "req-1") -> PendingRequest:
    return PendingRequest(
        connection_id="c1", correlation_id=correlation_id, flow=FLOW, timeout_values={}
    )


async def wait_for(condition: asyncio.Event) -> None:
    async with asyncio.timeout(5):
        await condition.wait()


async def test_a_refused_timeout_waits_again_when_the_request_is_resent() -> None:
    """The connection was still registered but refused the frame (it was closing): the
    timeout is missed, not delivered, and the client's resend waits for it again."""
    delivered: list[str] = []
    refused = asyncio.Event()
    answered = asyncio.Event()
    accept = False

    def on_timeout(pending: PendingRequest) -> bool:
        if not accept:
            refused.set()
            return False
        delivered.append(pending.correlation_id)
        answered.set()
        return True

    flows = FlowTracker(on_timeout)
    flows.track(request())
    await wait_for(refused)
    assert len(flows) == 0 and delivered == []
    accept = True  # resumed
    assert flows.rearm("c1", "req-1") is True
    await wait_for(answered)
    assert delivered == ["req-1"]


async def test_a_timeout_queued_on_its_socket_is_still_owed_to_a_resend() -> None:
    """The connection took the timeout frame into its queue, and the queue went with the
    connection (closed as a slow consumer, or its network dropped): the client never saw it,
    and a resume replays nothing the gateway made. Its resend of the request waits again and
    gets a timeout; a reply, however late, ends what is owed."""
    delivered: list[str] = []
    fired = asyncio.Event()

    def on_timeout(pending: PendingRequest) -> bool:
        delivered.append(pending.correlation_id)
        fired.set()
        return True  # queued: what became of it the tracker cannot know

    flows = FlowTracker(on_timeout)
    flows.track(request("lost"))
    flows.track(request("answered-late"))
    await wait_for(fired)
    while len(flows):
        fired.clear()
        await wait_for(fired)
    assert sorted(delivered) == ["answered-late", "lost"]
    assert flows.resolve("c1", "answered-late") is False  # a late reply: nothing owed now
    assert flows.rearm("c1", "answered-late") is False
    fired.clear()
    assert flows.rearm("c1", "lost") is True
    await wait_for(fired)
    assert delivered[-1] == "lost"


async def test_a_reply_ends_the_wait_and_forgets_a_missed_timeout() -> None:
    refused = asyncio.Event()
    flows = FlowTracker(lambda _pending: refused.set() or False)
    flows.track(request("a"))
    flows.track(request("b"))
    assert flows.resolve("c1", "a") is True  # answered in time: its timer never fires
    await wait_for(refused)  # b's fires, refused
    assert flows.resolve("c1", "b") is False  # no timer left, but the missed one is dropped
    assert flows.rearm("c1", "b") is False
    assert flows.rearm("c1", "a") is False


async def test_a_missed_timeout_is_owed_only_for_a_while() -> None:
    """A client that comes back within the TTL has its wait rearmed; one that comes back
    later does not (its request is forgotten, so nothing is held for ever)."""
    now = [0.0]
    refused = asyncio.Event()
    flows = FlowTracker(lambda _p: refused.set() or False, missed_ttl_s=600, clock=lambda: now[0])
    flows.track(request("late"))
    await wait_for(refused)
    refused.clear()
    flows.track(request("soon"))
    await wait_for(refused)
    now[0] = 599.0
    assert flows.rearm("c1", "soon") is True
    now[0] = 601.0
    assert flows.rearm("c1", "late") is False


async def test_timeouts_that_reached_a_queue_never_push_out_those_that_reached_no_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a service down every request times out, and most timeouts reach their socket's
    queue. Those are kept to a bound of their own: the one whose client was away stays
    owed however many others fire after it; of the queued ones, the newest are kept."""
    monkeypatch.setattr(flows_module, "MAX_MISSED", 3)
    fired: list[str] = []
    away, done = asyncio.Event(), asyncio.Event()

    def on_timeout(pending: PendingRequest) -> bool:
        fired.append(pending.correlation_id)
        away.set()
        if len(fired) == 6:
            done.set()
        return pending.correlation_id != "away"

    flows = FlowTracker(on_timeout)
    flows.track(request("away"))
    await wait_for(away)
    for n in range(5):
        flows.track(request(f"queued-{n}"))
    await wait_for(done)
    assert flows.rearm("c1", "away") is True
    assert [flows.rearm("c1", f"queued-{n}") for n in range(5)] == [False, False, True, True, True]


async def test_a_request_is_owed_while_it_waits_and_once_its_timeout_fired() -> None:
    """What a reply too large to send consults: a gateway holding the request lets it time
    out; every other gateway reading the partition leaves the reply alone."""
    fired = asyncio.Event()

    def on_timeout(pending: PendingRequest) -> bool:
        fired.set()
        return False  # its client is away: owed to a resend

    flows = FlowTracker(on_timeout)
    assert not flows.owes("c1", "req-1")
    flows.track(request())
    assert flows.owes("c1", "req-1")
    assert not flows.owes("c1", "req-2") and not flows.owes("c2", "req-1")
    await wait_for(fired)
    assert flows.owes("c1", "req-1"), "a fired timeout is still owed"
    flows.resolve("c1", "req-1")
    assert not flows.owes("c1", "req-1")


async def test_a_request_not_yet_written_gets_no_timeout_until_kafka_confirms_it() -> None:
    """In an outage the client is told about Kafka (unavailable, unconfirmed), not sent a
    timeout that blames the service; the timeout runs from Kafka's confirmation, and a reply
    that comes before it (or before the ack is handled) still ends the wait."""
    timed_out: list[str] = []
    fired = asyncio.Event()

    def on_timeout(pending: PendingRequest) -> bool:
        timed_out.append(pending.correlation_id)
        fired.set()
        return True

    flows = FlowTracker(on_timeout)
    in_doubt, answered_early = request("in-doubt"), request("answered-early")
    flows.track(in_doubt, armed=False)
    flows.track(answered_early, armed=False)
    # Ten of its 20 ms timeouts: a bounded look, not a synchronisation.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fired.wait(), 0.2)
    assert timed_out == [] and len(flows) == 2
    assert flows.resolve("c1", "answered-early") is True  # the reply won the race
    flows.arm(answered_early)  # its ack handled after: nothing left to arm
    flows.arm(in_doubt)  # the write landed after all
    await wait_for(fired)
    assert timed_out == ["in-doubt"] and len(flows) == 0


async def test_an_answered_request_reports_its_wait_and_a_dropped_one_nothing() -> None:
    now = [100.0]
    answered: list[tuple[str, float]] = []
    flows = FlowTracker(
        lambda _pending: True,
        on_answered=lambda pending, waited: answered.append((pending.correlation_id, waited)),
        clock=lambda: now[0],
    )
    read_at = flows.now()
    now[0] += 0.5  # waiting for its turn before it is written
    replied, never_written = request("replied"), request("never-written")
    flows.track(replied, armed=False, since=read_at)
    flows.track(never_written, armed=False)
    now[0] += 1.5
    flows.arm(replied)  # the write's ack: the wait counts from the frame, not this
    now[0] += 0.25
    assert flows.resolve("c1", "replied") is True
    flows.drop(never_written)  # refused by Kafka: no answer to time, nothing owed
    assert answered == [("replied", 2.25)]
    assert len(flows) == 0 and not flows.owes("c1", "never-written")
    assert flows.resolve("c1", "never-written") is False


async def test_a_late_outcome_of_one_request_leaves_a_newer_one_of_its_correlation_alone() -> None:
    """Request A (correlation "corr") is in doubt; the client sends B with the same
    correlation id, written at once. A's write failing after all must not end B's wait."""
    fired = asyncio.Event()
    flows = FlowTracker(lambda _pending: fired.set() or True)
    first, second = request("corr"), request("corr")
    flows.track(first, armed=False)
    flows.track(second, armed=False)
    flows.arm(second)
    flows.drop(first)  # A's late failure
    flows.arm(first)  # or its late success: B's timer is B's own either way
    assert len(flows) == 1 and flows.owes("c1", "corr")
    await wait_for(fired)  # B's timeout still comes


async def test_a_request_waiting_again_after_its_timeout_is_not_timed_twice() -> None:
    """Its wait was counted as a timeout; the answer to its resend is no round trip."""
    fired = asyncio.Event()
    answered: list[float] = []
    flows = FlowTracker(
        lambda _pending: fired.set() or True,
        on_answered=lambda _pending, waited: answered.append(waited),
    )
    flows.track(request("slow"))
    await wait_for(fired)
    assert flows.rearm("c1", "slow") is True  # the client resent it
    assert flows.resolve("c1", "slow") is True
    assert answered == []
