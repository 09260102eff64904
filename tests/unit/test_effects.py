"""lakeapi's process-wide side effects are held by one context manager and undone on exit."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from rlx_tui.sources.quiet import captured, effects_active, lakeapi_working_directory, library_effects


def process_state() -> tuple[object, ...]:
    loggers = tuple(
        (tuple(logging.getLogger(n).handlers), logging.getLogger(n).propagate, logging.getLogger(n).level)
        for n in ("lakeapi", "botocache", "awswrangler")
    )
    return sys.stdout, sys.stderr, warnings.showwarning, loggers, os.environ.get("TQDM_DISABLE"), os.getcwd()


def test_library_effects_are_undone_on_exit_even_when_nested() -> None:
    before = process_state()
    assert not effects_active()
    with library_effects():
        assert sys.stdout is not before[0] and sys.stderr is not before[1]
        assert warnings.showwarning is not before[2]
        assert os.environ.get("TQDM_DISABLE") is not None
        with library_effects():  # the dashboard inside main(): still held after the inner exit
            pass
        assert effects_active() and sys.stdout is not before[0]
    assert process_state() == before and not effects_active()


def test_capture_outside_an_entry_point_leaves_nothing_behind() -> None:
    """A thread's prints, warnings and lakeapi log records are caught, and the process is as it was."""
    before = process_state()
    caught: list[str] = []

    def worker() -> None:
        with captured() as capture:
            print("lakeapi says hello")
            warnings.warn("deprecated thing", UserWarning, stacklevel=1)
            logging.getLogger("lakeapi").warning("No data available")
        caught.extend(capture.lines())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert caught == ["lakeapi says hello", "UserWarning: deprecated thing", "No data available"]
    assert process_state() == before


def test_the_working_directory_is_only_changed_inside(tmp_path: Path) -> None:
    before = os.getcwd()
    with lakeapi_working_directory(tmp_path):
        assert Path(os.getcwd()) == tmp_path.resolve()
    assert os.getcwd() == before


def test_main_restores_the_process_streams() -> None:
    """``rlx-tui --version`` through main(): the streams and lakeapi's loggers are as it found them."""
    from loguru import logger

    from rlx_tui import logs
    from rlx_tui.cli import main

    before = process_state()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        assert main(["--version"]) == 0
        after = process_state()
    finally:  # what main() sets up for its own process: its signal handlers and log sinks
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        logs.reset()
        logger.add(sys.__stderr__, level="WARNING", diagnose=False)
    # warnings.showwarning (index 2) is the log set-up's logging.captureWarnings, not lakeapi's
    assert after[:2] == before[:2] and after[3:] == before[3:]
