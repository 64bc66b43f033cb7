"""A test session's children die with it, even when it is killed before its clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from nexus_testkit import wait_until

# A parent that starts a long sleep armed to die with it, says the child's pid, and waits.
PARENT = """
import subprocess, sys, time
from nexus_mesh.localkafka.orphans import dies_with_this_process
child = subprocess.Popen(["sleep", "120"], preexec_fn=dies_with_this_process())
print(child.pid, flush=True)
time.sleep(120)
"""


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for whoever adopted it to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_a_child_is_killed_when_the_process_that_started_it_is() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert not gone(child)
        os.kill(parent.pid, signal.SIGKILL)  # as a test timeout's os._exit would end it
        parent.wait()
        wait_until(lambda: gone(child), timeout=10, what="the orphaned child to be killed")
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)
