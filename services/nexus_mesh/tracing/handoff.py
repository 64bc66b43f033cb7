"""Finished spans handed to the exporting processor in batches.

fastotel's ``on_end`` copies a span into Rust and wakes its export thread. Called once per
span as each ends, a traced gateway spent ~13 us per span on it under emit load; handed over
256 at a time, ~7 us, the waking paid once per batch (docs/benchmarks.md, tracing overhead).
:class:`BatchedHandOff` makes ``on_end`` an append to a queue. The span that fills a batch
hands the batch over on the thread that ended it, the event loop (handing batches over on a
thread of their own gave 4% less throughput in the same runs: the GIL passed back and
forth); a daemon thread hands over what is left ``delay`` seconds later, so a quiet process
still exports within ``delay`` of fastotel's own schedule.
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
    queue): a span ended while that many wait, or once shutdown has begun, is dropped and
    counted in :attr:`dropped`, the first drop logged. ``force_flush`` and ``shutdown`` hand
    over what waits first, in order; a process that exits without shutting its provider down
    is shut down by an exit handler that runs before fastotel's, so the spans still exported.
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
        self._wake = threading.Event()  # set by shutdown: the thread stops sleeping out its delay
        # Taken by on_end too: uncontended it costs ~0.1 us, and it orders every span
        # against the start of shutdown, so none is queued after the last hand-over.
        self._state = threading.Lock()
        # One hand-over at a time: a flush waits for the batch being handed over, and spans
        # reach the processor in the order they ended.
        self._handing = threading.Lock()
        self._stopped = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="nexus-span-handoff", daemon=True)
        self._thread.start()
        _live.add(self)

    @property
    def processor(self) -> EndedSpanProcessor:
        """Where the spans go (fastotel's processor)."""
        return self._processor

    def on_end(self, span: Any) -> None:
        pending = self._pending
        with self._state:
            if self._stopped or len(pending) >= self._max_queue_size:
                self._drop(1)
                return
            pending.append(span)
        # Unless a hand-over is running already: that one takes these spans too.
        if len(pending) >= self._batch and self._handing.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._handing.release()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._hand_over()
        return self._processor.force_flush(timeout_millis)

    def shutdown(self) -> None:
        with self._state:
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
        with self._handing:
            self._drain()

    def _drain(self) -> None:
        # Called with self._handing held.
        pending = self._pending
        on_end = self._processor.on_end
        while pending:
            span = pending.popleft()
            try:
                on_end(span)
            except Exception:
                # fastotel never raises here; another processor's failure costs its span,
                # not the caller, nor the spans after it.
                _logger.exception("span processor failed on a finished span")
                with self._state:
                    self._drop(1)

    def _drop(self, count: int) -> None:
        # Called with self._state held.
        self.dropped += count
        if self.dropped == count:
            _logger.warning(
                "span queue full (%d spans) or shut down: dropping spans", self._max_queue_size
            )


_live: weakref.WeakSet[BatchedHandOff] = weakref.WeakSet()


@atexit.register
def _shut_down_at_exit() -> None:
    # Registered after fastotel's handler (fastotel is imported above), so it runs first
    # (exit handlers run last registered first): the processor is shut down, exporting what
    # it holds, while fastotel still serves it. The daemon thread keeps every hand-off alive,
    # so nothing else would.
    for handoff in list(_live):
        handoff.shutdown()
