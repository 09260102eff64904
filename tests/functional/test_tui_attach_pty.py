"""`rlx-tui attach` under a real pty: losing the terminal detaches, the detached run goes on."""

from __future__ import annotations

import datetime as dt
import os
import pty
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import psutil
import pytest

from rlx_tui.partitions import Request
from rlx_tui.runs.launcher import RunInfo, start_detached
from rlx_tui.runs.liveness import find_live_run
from rlx_tui.runs.summary import replay
from rlx_tui.sources.demo.lake import DemoLake
from tests.conftest import demo_settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
ROOT = Path(__file__).resolve().parents[2]
REQUEST = Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, 10))


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ready(info: RunInfo) -> int:
    return replay(info.paths.data_dir, info.paths.journal)[0].ready


@pytest.fixture
def running(clean_demo_lake: DemoLake, data_dir: Path) -> Iterator[RunInfo]:
    clean_demo_lake.set_faults(slow_seconds=0.5)
    settings = demo_settings(clean_demo_lake, data_dir, demo_profile="clean", workers=1)
    info = start_detached(settings, REQUEST, tick_every=1.0)
    try:
        yield info
    finally:
        clean_demo_lake.set_faults(slow_seconds=0.0)
        if not _gone(info.pid):
            os.kill(info.pid, signal.SIGINT)
            wait_until(lambda: _gone(info.pid), 30, "the host to exit")


def test_closing_the_attached_terminal_leaves_the_run_going(
    running: RunInfo, clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    wait_until(lambda: ready(running) >= 1, 60, "a first partition")
    argv = [sys.executable, "-m", "rlx_tui.cli", "--source", "demo"]
    argv += ["--endpoint-url", clean_demo_lake.endpoint_url, "--data-dir", str(data_dir)]
    argv += ["--env-file", os.devnull, "attach"]
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "PYTHONPATH": str(ROOT)}
    pid, master = pty.fork()
    if pid == 0:  # the child: the real program, its terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, argv, env)
    log = data_dir / "logs" / "rlx-tui.log"

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    try:
        attached = f"attached to run {running.number} (pid {running.pid})"
        wait_until(lambda: log.exists() and attached in log.read_text(), 60, "the dashboard to attach")
        os.close(master)  # the terminal goes away: the kernel sends SIGHUP
        master = -1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("rlx-tui attach did not exit after the terminal went away")
    finally:
        if master >= 0:
            os.close(master)
        with_pid = psutil.pid_exists(pid) and not _gone(pid)
        if with_pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGHUP
    # the run was not stopped: it is still live and partitions keep arriving
    assert not _gone(running.pid)
    assert anyio.run(find_live_run, data_dir) is not None
    before = ready(running)
    wait_until(lambda: ready(running) > before, 30, "more partitions after the terminal went away")
