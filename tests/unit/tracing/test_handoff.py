"""Finished spans queued on the event loop and handed to the exporting processor in batches.

The processor here is a recorder standing in for fastotel's (which exports over the network:
tests/integration/tracing/test_otlp_pipelines.py runs the real one through the hand-off to a
real OTLP receiver).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from nexus_mesh.tracing.handoff import BatchedHandOff

DEADLINE = 10.0


class Recorder:
    def __init__(self) -> None:
        self.spans: list[object] = []
        self.calls: list[str] = []
        self.threads: set[str] = set()
        self.arrived = threading.Condition()

    def on_end(self, span: object) -> None:
        with self.arrived:
            self.spans.append(span)
            self.threads.add(threading.current_thread().name)
            self.arrived.notify_all()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.calls.append(f"flush {len(self.spans)}")
        return True

    def shutdown(self) -> None:
        self.calls.append(f"shutdown {len(self.spans)}")

    def wait_for(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.spans) >= count, timeout=DEADLINE)


def test_a_few_spans_reach_the_processor_within_the_delay_without_a_flush() -> None:
    recorder = Recorder()
    handoff = BatchedHandOff(recorder, max_queue_size=100, batch=50, delay=0.05)
    try:
        began = time.monotonic()
        handoff.on_end("one")
        handoff.on_end("two")
        assert recorder.wait_for(2)
        assert time.monotonic() - began < 5.0
        assert recorder.spans == ["one", "two"]
        assert recorder.threads == {"nexus-span-handoff"}
        assert recorder.calls == []
    finally:
        handoff.shutdown()


def test_the_span_that_fills_a_batch_hands_it_over_at_once() -> None:
    recorder = Recorder()
    handoff = BatchedHandOff(recorder, max_queue_size=1000, batch=10, delay=600.0)
    try:
        for number in range(9):
            handoff.on_end(number)
        assert recorder.spans == []  # the delay is 600 s
        handoff.on_end(9)
        assert recorder.spans == list(range(10))
        assert recorder.threads == {threading.current_thread().name}
    finally:
        handoff.shutdown()


def test_flush_hands_over_what_waits_before_flushing_the_processor() -> None:
    recorder = Recorder()
    handoff = BatchedHandOff(recorder, max_queue_size=100, batch=50, delay=600.0)
    try:
        for number in range(3):
            handoff.on_end(number)
        assert handoff.force_flush(1000)
        assert recorder.calls == ["flush 3"]
    finally:
        handoff.shutdown()


def test_a_full_queue_drops_and_counts_spans_and_keeps_serving() -> None:
    recorder = Recorder()
    handoff = BatchedHandOff(recorder, max_queue_size=3, batch=50, delay=600.0)
    try:
        for number in range(5):
            handoff.on_end(number)
        assert handoff.dropped == 2
        handoff.force_flush()
        assert recorder.spans == [0, 1, 2]
        handoff.on_end(5)  # room again
        handoff.force_flush()
        assert recorder.spans == [0, 1, 2, 5] and handoff.dropped == 2
    finally:
        handoff.shutdown()


def test_shutdown_hands_over_stops_the_thread_and_refuses_later_spans() -> None:
    recorder = Recorder()
    handoff = BatchedHandOff(recorder, max_queue_size=100, batch=50, delay=600.0)
    handoff.on_end("last")
    handoff.shutdown()
    handoff.shutdown()
    assert recorder.calls == ["shutdown 1"]
    assert not handoff._thread.is_alive()
    handoff.on_end("late")
    assert recorder.spans == ["last"] and handoff.dropped == 1


def test_a_process_exiting_without_shutdown_still_hands_over_and_shuts_down() -> None:
    """As the SDK's provider does at exit: the queue reaches the processor, which is then
    shut down (fastotel exports what it holds then; tests/integration/tracing/
    test_otlp_pipelines.py checks that end to end)."""
    program = textwrap.dedent(
        """
        from nexus_mesh.tracing.handoff import BatchedHandOff

        class Printer:
            def on_end(self, span):
                print("handed", span, flush=True)
            def force_flush(self, timeout_millis=30000):
                return True
            def shutdown(self):
                print("shut down", flush=True)

        handoff = BatchedHandOff(Printer(), max_queue_size=100, batch=50, delay=600.0)
        handoff.on_end("queued-at-exit")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["handed queued-at-exit", "shut down"]


def test_a_flush_waits_for_the_batch_being_handed_over() -> None:
    """A span the thread has taken but not yet handed over ended before the flush: the
    flush must not pass it, and spans reach the processor in the order they ended. A full
    batch meanwhile must not make the span's own thread (the event loop) wait."""
    entered, release = threading.Event(), threading.Event()

    class Slow(Recorder):
        def on_end(self, span: object) -> None:
            if span == 0:
                entered.set()
                release.wait(DEADLINE)
            super().on_end(span)

    slow = Slow()
    handoff = BatchedHandOff(slow, max_queue_size=100, batch=3, delay=0.01)
    try:
        handoff.on_end(0)  # the thread takes it within its delay and blocks in on_end
        assert entered.wait(DEADLINE)
        began = time.monotonic()
        for number in (1, 2, 3):  # a full batch: handed over by the running hand-over
            handoff.on_end(number)
        assert time.monotonic() - began < DEADLINE / 2, "on_end waited for the hand-over"
        flusher = threading.Thread(target=handoff.force_flush)
        flusher.start()
        flusher.join(timeout=0.2)
        assert flusher.is_alive(), "the flush returned with span 0 not handed over"
        release.set()
        flusher.join(DEADLINE)
        assert slow.calls == ["flush 4"] and slow.spans == [0, 1, 2, 3]
    finally:
        release.set()
        handoff.shutdown()


def test_a_failing_processor_costs_its_span_not_the_hand_off() -> None:
    class Failing(Recorder):
        def on_end(self, span: object) -> None:
            if span == "bad":
                raise RuntimeError("processor bug")
            super().on_end(span)

    failing = Failing()
    handoff = BatchedHandOff(failing, max_queue_size=100, batch=2, delay=0.05)
    try:
        handoff.on_end("bad")
        handoff.on_end("good")
        assert failing.wait_for(1)
        handoff.on_end("later")
        assert failing.wait_for(2), "the hand-off thread died with the processor's error"
        assert failing.spans == ["good", "later"] and handoff.dropped == 1
    finally:
        handoff.shutdown()
