"""Log panel: the engine's log lines, fed by a loguru sink that posts messages to the app."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from rlx_tui.logs import logger
from rlx_tui.tui.logview import LogView

MAX_LINES = 5_000
LOG_FORMAT = "{time:HH:mm:ss} {level: <7} {message}"


class LogLine(Message):
    """One formatted log line (posted from any thread)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


def add_log_sink(app: App[Any], level: str = "INFO") -> int:
    """Mirror loguru records into ``app`` as :class:`LogLine` messages; returns the sink id.

    ``post_message`` is thread-safe, so records logged from engine worker
    threads are fine. Remove the sink with ``logger.remove(id)``.
    """

    def sink(message: Any) -> None:
        with contextlib.suppress(Exception):  # an app shutting down: never a "Logging error" on screen
            app.post_message(LogLine(str(message).rstrip("\n")))

    return logger.add(sink, level=level, format=LOG_FORMAT, colorize=False, catch=False, diagnose=False)


def remove_log_sink(sink_id: int | None, remove: Callable[[int], None] = logger.remove) -> None:
    if sink_id is None:
        return
    with contextlib.suppress(ValueError):  # already removed (logger.remove() elsewhere)
        remove(sink_id)


class LogPanel(Vertical):
    """A bounded log view (``max_lines``), toggled with a key (:mod:`.logview`: a write repaints, it does
    not lay the screen out again)."""

    def compose(self) -> ComposeResult:
        yield Static("Log (l hides)", id="log-title")
        yield LogView(MAX_LINES, id="log")

    def write_lines(self, lines: Iterable[str]) -> None:
        batch = list(lines)
        if batch:
            self.query_one("#log", LogView).write_lines(batch)
