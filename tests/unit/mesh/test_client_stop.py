"""Stopping a Kafka client during a shutdown: bounded, and a stray cancellation of aiokafka's
own does not abort the rest of the shutdown."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from nexus_mesh.kafka.connection import stop_quietly


async def test_a_stop_that_never_ends_is_abandoned_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A LeaveGroup timing out mid-rebalance once held a stopping service for ten minutes:
    the process must go on to its exit (and the kubelet's grace period) instead."""
    never = asyncio.get_running_loop().create_future()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        await stop_quietly(never, timeout_s=0.2)
    assert time.monotonic() - began < 5
    assert "did not stop within" in caplog.text


async def test_a_stray_cancellation_inside_the_stop_does_not_abort_the_caller() -> None:
    async def stop_ending_in_a_stray_cancel() -> None:
        raise asyncio.CancelledError  # aiokafka's fetcher awaiting its own cancelled task

    after: list[str] = []
    await stop_quietly(stop_ending_in_a_stray_cancel())
    after.append("the producer's stop")
    assert after == ["the producer's stop"]


async def test_a_cancellation_of_the_caller_itself_still_goes_on() -> None:
    started = asyncio.Event()

    async def slow_stop() -> None:
        started.set()
        await asyncio.Event().wait()

    stopping = asyncio.create_task(stop_quietly(slow_stop(), timeout_s=30))
    await started.wait()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
