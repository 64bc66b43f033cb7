"""What a serving process does with the objects it made while starting."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Keep what exists now (imported modules, classes, settings) out of every later
    garbage collection.

    A full collection walks every object the collector tracks while the event loop stands
    still; ~70,000 of a gateway's are its imports, which live as long as the process. Only
    the command-line entry points call this, before they serve: an application embedding a
    gateway or a service keeps its heap as it chose (docs/benchmarks.md, idempotency window
    and garbage-collection pauses).
    """
    gc.collect()  # nothing already garbage is frozen with the rest
    gc.freeze()
