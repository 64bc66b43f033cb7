"""Finished spans handed to the exporting processor in batches, from a thread of their own.

fastotel's ``on_end`` copies a span into Rust and wakes its export thread. Called once per
span on the event loop, a traced gateway spent ~13 us per span on it under emit load; handed
over 256 at a time it cost ~7 us, the waking paid once per batch (docs/benchmarks.md, tracing
overhead). :class:`BatchedHandOff` makes ``on_end`` an append to a queue; a daemon thread
hands the queued spans over when a batch is full or ``delay`` seconds have passed, whichever
comes first, so a quiet process still exports within ``delay`` of fastotel's own schedule.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from typing import Any

# Imported for its exit handler, which must be registered before this module's (see below).
import fastotel  # noqa: F401

from nexus_mesh.tracing.lean import EndedSpanProcessor

_logger = logging.getLogger(__name__)


class BatchedHandOff:
    """An :class:`EndedSpanProcessor` queueing spans for ``processor``.

    At most ``max_queue_size`` spans wait (``OTEL_BSP_MAX_QUEUE_SIZE``, as fastotel's own
    queue): a span ended while that many wait is dropped and counted in :attr:`dropped`, the
    first drop logged. ``force_flush`` and ``shutdown`` hand over what waits before passing
    on; at interpreter exit the queue is handed over before fastotel's own exit handler runs.
    """

    def __init__(
        self,
        processor: EndedSpanProcessor,
        *,
        max_queue_size: int,
        batch: int = 256,
        delay: float = 0.1,
    ) -> None:
        self._processor = processor
        self._pending: deque[Any] = deque()
        self._max_queue_size = max_queue_size
        self._batch = batch
        self._delay = delay
        self._wake = threading.Event()
        self._stopped = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="nexus-span-handoff", daemon=True)
        self._thread.start()
        _live.add(self)

    def on_end(self, span: Any) -> None:
        pending = self._pending
        if len(pending) >= self._max_queue_size or self._stopped:
            self._drop()
            return
        pending.append(span)
        if len(pending) == self._batch:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._hand_over()
        return self._processor.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._thread.join()
        self._hand_over()
        _live.discard(self)
        self._processor.shutdown()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._hand_over()

    def _hand_over(self) -> None:
        # popleft is atomic: the thread, a flush and the exit handler may drain together.
        pending = self._pending
        on_end = self._processor.on_end
        while True:
            try:
                span = pending.popleft()
            except IndexError:
                return
            on_end(span)

    def _drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1:
            _logger.warning(
                "span queue full (%d spans) or stopped: dropping spans", self._max_queue_size
            )


_live: weakref.WeakSet[BatchedHandOff] = weakref.WeakSet()


@atexit.register
def _hand_over_at_exit() -> None:
    # Registered after fastotel's (imported above), so it runs first: exit handlers run last
    # registered first.
    for handoff in list(_live):
        handoff._hand_over()
