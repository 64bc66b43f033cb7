"""Stopping a background task: the caller's own cancellation is never swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nexus_mesh.tasks import cancel_and_wait, finish_detached, run_detached


async def _lingers_after_cancel(released: asyncio.Event, started: asyncio.Event) -> None:
    """A task that takes a while to finish once cancelled (it flushes something)."""
    try:
        started.set()
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await released.wait()
        raise


async def _until_cancelling(task: asyncio.Task[None]) -> None:
    """Yield to the loop until someone has asked ``task`` to cancel (a few turns at most)."""
    async with asyncio.timeout(5):
        # A cancellation request sets no event to wait on: one turn of the loop at a time.
        while not task.cancelling():  # noqa: ASYNC110
            await asyncio.sleep(0)


async def test_the_task_has_ended_when_it_returns() -> None:
    released, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_lingers_after_cancel(released, started))
    await started.wait()
    stopping = asyncio.create_task(cancel_and_wait(task))
    await _until_cancelling(task)
    assert not stopping.done(), "it waits for the task's own clean-up"
    released.set()
    await stopping
    assert task.cancelled()


async def test_a_cancellation_of_the_caller_goes_on() -> None:
    """With ``suppress(CancelledError)`` around ``await task`` the caller's cancellation,
    arriving while the task cleans up, was taken for the task's and dropped: the caller
    carried on as if it had not been cancelled."""
    released, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_lingers_after_cancel(released, started))
    await started.wait()
    went_on = False

    async def shutdown() -> None:
        nonlocal went_on
        await cancel_and_wait(task)
        went_on = True

    caller = asyncio.create_task(shutdown())
    await _until_cancelling(task)  # the caller now waits in cancel_and_wait
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not went_on
    released.set()
    await asyncio.wait({task})


async def test_a_task_that_had_failed_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise RuntimeError("broken pipe to nowhere")

    task = asyncio.create_task(fails(), name="doomed")
    await asyncio.wait({task})
    with caplog.at_level(logging.ERROR, logger="nexus_mesh.tasks"):
        await cancel_and_wait(task)
    assert "doomed" in caplog.text and "broken pipe to nowhere" in caplog.text


async def test_no_task_is_nothing_to_stop() -> None:
    await cancel_and_wait(None)


async def test_detached_tasks_are_waited_for_before_the_loop_stops() -> None:
    """A close handshake under way in the background ends before the process stops its
    loop, instead of being destroyed half done."""
    release = asyncio.Event()
    done: list[str] = []

    async def closing() -> None:
        await release.wait()
        done.append("closed")

    run_detached(closing(), name="close-c1")
    asyncio.get_running_loop().call_soon(release.set)
    await finish_detached(timeout=5)
    assert done == ["closed"]


async def test_a_detached_task_outliving_the_wait_is_cancelled_and_ended() -> None:
    cancelled: list[bool] = []
    started = asyncio.Event()

    async def stuck() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    run_detached(stuck(), name="stuck")
    # Started, so that it is inside its try when cancelled and its clean-up runs.
    async with asyncio.timeout(5):
        await started.wait()
    await finish_detached(timeout=0.01)
    assert cancelled == [True], "cancelled, and its clean-up ran before the wait returned"
