"""A lost terminal (SIGHUP) stops a `rlx-tui --foreground` run cleanly, like a confirmed quit: under a pty.

(Without ``--foreground`` the run has a process of its own and goes on: test_tui_attach_pty.py.)
"""

from __future__ import annotations

import json
import os
import pty
import signal
import sys
import threading
from pathlib import Path

import pytest

from rlx_tui.atomic import TMP_PREFIX
from rlx_tui.sources.demo.lake import DemoLake
from tests.functional.waiting import wait_for_exit, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
ROOT = Path(__file__).resolve().parents[2]


def test_sighup_mid_run_stops_cleanly(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    request = {
        "tables": ["trades", "book"],
        "exchanges": ["BINANCE"],
        "symbols": ["BTC-USDT", "ETH-USDT"],
        "start": "2024-01-01",
        "end": "2024-01-05",
    }
    (data_dir / "tui-last-request.json").write_text(json.dumps({"request": request, "finished": False}))
    clean_demo_lake.set_faults(slow_seconds=0.2)
    endpoint = clean_demo_lake.endpoint_url
    argv = [sys.executable, "-m", "rlx_tui.cli", "--source", "demo", "--endpoint-url", endpoint]
    argv += ["--data-dir", str(data_dir), "--env-file", os.devnull, "--foreground"]
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "PYTHONPATH": str(ROOT)}
    pid, master = pty.fork()
    if pid == 0:  # the child: the real program, its terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, argv, env)
    screen = bytearray()
    log = data_dir / "logs" / "rlx-tui.log"

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: b"to fetch" in screen, 60, "the selection screen's estimate")
        os.write(master, b"\x13")  # ctrl+s: start the remembered request
        wait_until(lambda: log.exists() and "started on worker" in log.read_text(), 30, "the run to start")
        os.close(master)  # the terminal goes away: the kernel sends SIGHUP
        master = -1
        status = wait_for_exit(pid, 30, "rlx-tui after SIGHUP")
        assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGHUP
    finally:
        if master >= 0:
            os.close(master)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    text = log.read_text()
    assert "signal SIGHUP: leaving (a run in this process stops cleanly" in text and "run finished" in text
    assert "Traceback" not in text
    staging = data_dir / "staging"
    assert not any((staging / "tmp").iterdir())
    assert not list(staging.rglob(f"{TMP_PREFIX}*"))
