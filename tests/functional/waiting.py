"""Waiting on conditions and child processes in the real-process tests (never a bare sleep)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_for_exit(pid: int, timeout: float, what: str) -> int:
    """Reap child ``pid`` and return its raw wait status; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{what} did not exit within {timeout:.0f} s")


def wait_measured(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, os.struct_rusage, bool]:
    """Reap ``proc`` with ``wait4`` (its own resource usage, peak RSS included), killing it after ``timeout``.

    Returns its exit code (negative for a signal), its resource usage, and whether the timeout killed it.
    """
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    timed_out = killer.finished.is_set() and proc.returncode == -signal.SIGKILL
    return proc.returncode, usage, timed_out
