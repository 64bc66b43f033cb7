"""Background tasks: starting one nobody awaits, and stopping one without losing the
caller's own cancellation.

``task.cancel()`` then ``await task`` inside ``suppress(CancelledError)`` cannot tell the
task's cancellation from a cancellation of the caller arriving during that wait, and swallows
both: a shutdown that is itself being cancelled (a timeout around it, a second signal) would
carry on as if nothing happened. ``asyncio.wait`` never raises the task's outcome, so any
``CancelledError`` out of it is the caller's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and return once it has ended; a failure of its own (an exception
    other than its cancellation) is logged, not raised, as a background task's would be."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (failure := task.exception()) is not None:
        log.error("background task %s had failed", task.get_name(), exc_info=failure)


# The event loop keeps only weak references to tasks: one nobody awaits could be collected
# mid-way unless something holds it until it ends.
_detached: set[asyncio.Task[Any]] = set()


def run_detached(coro: Coroutine[Any, Any, None], *, name: str | None = None) -> None:
    """Run ``coro`` as a task nobody awaits, kept alive until it ends."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _detached.add(task)
    task.add_done_callback(_detached.discard)


async def finish_detached(timeout: float) -> None:
    """Wait up to ``timeout`` seconds for this loop's detached tasks (started before or
    meanwhile), then cancel what is left and wait for that: a process stopping its loop
    would otherwise destroy them mid-way, a close handshake half done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := {
        t for t in _detached if t.get_loop() is loop and t is not asyncio.current_task()
    }:
        remaining = deadline - loop.time()
        if remaining <= 0:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)
            return
        await asyncio.wait(pending, timeout=remaining)
