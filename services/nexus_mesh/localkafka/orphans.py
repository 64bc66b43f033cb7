"""Child processes that must not outlive whoever started them.

A test session's broker and mesh processes are stopped by its fixtures; a session killed
before they run (a test's timeout ends the process with ``os._exit``, a CI job is cancelled)
would leave a JVM and Python servers holding ports and memory on the machine. Linux can
signal a child when its parent dies (``PR_SET_PDEATHSIG``), which is what this arms. A broker
started by ``nexus kafka start`` is meant to outlive its command and does not use it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def dies_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` that kills the child when this process
    dies; None where that cannot be armed (not Linux, or not the main thread: the kernel
    signals when the thread that started the child ends, not the process)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    # Looked up here, before the fork: the child runs as little Python as it can.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            # Raised in the child, Popen raises it in the parent: no child goes unarmed.
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # died before the line above: nobody would tell us
            os._exit(1)

    return arm
