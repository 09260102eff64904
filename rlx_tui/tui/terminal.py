"""Losing the terminal (SSH drop): SIGHUP / SIGTERM stop the run cleanly; a dead tty cannot hang the exit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from textual.app import App

from rlx_tui.logs import logger

TEXTUAL_OUTPUT_THREAD = "textual-output"  # the name of the thread that writes Textual's screen updates

termios: ModuleType | None
try:  # POSIX: used to tell a hung-up terminal from a resumed one
    import termios as _termios
except ImportError:  # pragma: no cover - Windows
    termios = None
else:
    termios = _termios


def terminal_gone() -> bool:
    """True when the controlling terminal has hung up (its attributes cannot be read any more)."""
    if termios is None:
        return False
    try:
        termios.tcgetattr(sys.__stdin__.fileno() if sys.__stdin__ else 0)
    except (termios.error, OSError, ValueError):
        return True
    return False


class TerminalGuard:
    """Turns SIGHUP / SIGTERM into ``shutdown(128 + signal)``, like a confirmed quit, for ``app``."""

    def __init__(self, app: App[Any], shutdown: Callable[[int], None]) -> None:
        self._app = app
        self._shutdown = shutdown
        self._signals: list[int] = []
        self._sigcont_before: Any = None
        self._detached = False
        self._writer: threading.Thread | None = None  # Textual's output thread, once seen alive

    def install(self) -> None:
        """Handle SIGHUP, SIGTERM and SIGCONT (call from the running event loop)."""
        loop = asyncio.get_running_loop()
        self._writer = _output_thread()  # seen now: once it has died it is no longer listed
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._signals.append(sig)
        # A hang-up also sends SIGCONT, on which Textual's driver re-enters application mode
        # and writes to the dead terminal: check the terminal first.
        try:
            self._sigcont_before = signal.signal(signal.SIGCONT, self._on_sigcont)
        except (ValueError, OSError, AttributeError):
            self._sigcont_before = None

    def uninstall(self) -> None:
        """Give the signals back (no-op for those never installed)."""
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for sig in self._signals:
                loop.remove_signal_handler(sig)
        if self._sigcont_before is not None:
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signal.SIGCONT, self._sigcont_before)

    def _on_sigcont(self, signum: int, frame: Any) -> None:
        if terminal_gone():
            self.detach()
            return
        previous = self._sigcont_before
        if callable(previous):
            previous(signum, frame)

    def _on_signal(self, sig: int) -> None:
        logger.warning(
            "signal {}: leaving (a run in this process stops cleanly, a detached run goes on)",
            signal.Signals(sig).name,
        )
        if sig == signal.SIGHUP or terminal_gone():
            self.detach()
        self._shutdown(128 + sig)

    def detach(self) -> None:
        """The terminal is gone (SSH drop): point fds 0-2 at /dev/null so the shutdown cannot hang.

        Writing to a hung-up tty fails with EIO; Textual's output thread dies on
        that error, and the next screen writes would then block the event loop
        forever on its full queue, so the run would never be stopped. After this,
        drawing and the final terminal reset go to /dev/null, and should the
        output thread die anyway (a write already under way), its queue is drained
        by running the thread's loop once more (public ``Thread.run``), into /dev/null.
        """
        if self._detached:
            return
        self._detached = True
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
        except OSError as exc:
            logger.warning("could not detach from the terminal: {}", exc)
        if self._app.is_headless:
            return
        writer = _output_thread() or self._writer
        if writer is None:
            return

        def drain_when_dead() -> None:
            writer.join()
            writer.run()  # the writer's own loop again, now into /dev/null: queued writes cannot block

        threading.Thread(target=drain_when_dead, name="rlx-drain-output", daemon=True).start()


def _output_thread() -> threading.Thread | None:
    """Textual's screen-writer thread, found by name through the public ``threading`` API (if alive)."""
    return next((t for t in threading.enumerate() if t.name == TEXTUAL_OUTPUT_THREAD), None)
