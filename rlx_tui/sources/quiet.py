"""Keep lakeapi's prints, tqdm bars, warnings and log records off the terminal.

lakeapi prints warnings with ``print()``, draws tqdm bars on stderr and logs
"No data available" through ``logging`` when it skips an unreadable object.
Inside :func:`captured`, everything a thread writes or logs is collected for
that thread alone (so two workers and the UI do not see each other's output)
and handed back; the caller logs it and can inspect it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rlx_tui.logs import logger

_local = threading.local()
_install_lock = threading.Lock()
_installed = False


class _ThreadRoutedStream:
    """Stands in for sys.stdout/sys.stderr: captured threads write to their buffer."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    def write(self, text: str) -> int:
        buffer = getattr(_local, "buffer", None)
        if buffer is not None:
            buffer.append(text)
            return len(text)
        if threading.current_thread() is not threading.main_thread():
            # Library worker threads (lakeapi's thread_map, tqdm) never own the
            # terminal: what they print goes to the log file instead.
            if text.strip() and not getattr(_local, "logging", False):
                _local.logging = True
                try:
                    name = threading.current_thread().name
                    logger.debug("output from thread {}: {}", name, text.strip()[:500])
                finally:
                    _local.logging = False
            return len(text)
        return self._original.write(text)

    def flush(self) -> None:
        if getattr(_local, "buffer", None) is None:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _ThreadRoutedHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer = getattr(_local, "records", None)
        if buffer is not None:
            buffer.append(record.getMessage())


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        os.environ.setdefault("TQDM_DISABLE", "1")
        sys.stdout = _ThreadRoutedStream(sys.stdout)
        sys.stderr = _ThreadRoutedStream(sys.stderr)
        handler = _ThreadRoutedHandler(level=logging.DEBUG)
        for name in ("lakeapi", "botocache", "awswrangler"):
            logger = logging.getLogger(name)
            logger.addHandler(handler)
            logger.propagate = False
            logger.setLevel(logging.WARNING)
        original_showwarning = warnings.showwarning

        def _showwarning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
            buffer = getattr(_local, "buffer", None)
            if buffer is not None:
                buffer.append(f"{category.__name__}: {message}\n")
            else:
                original_showwarning(message, category, *args, **kwargs)

        warnings.showwarning = _showwarning
        _installed = True


def terminal_stdout() -> TextIO:
    """The real standard output, for the one thread-based writer allowed on it (rich's live display)."""
    stream = sys.stdout
    return stream._original if isinstance(stream, _ThreadRoutedStream) else stream


class Capture:
    """What one captured block printed and logged."""

    def __init__(self) -> None:
        self.output: list[str] = []
        self.records: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.output)

    def lines(self) -> list[str]:
        return [line for line in (self.text.splitlines() + self.records) if line.strip()]


@contextmanager
def captured() -> Iterator[Capture]:
    """Capture this thread's prints, tqdm output, warnings and lakeapi log records."""
    _install()
    capture = Capture()
    previous = (getattr(_local, "buffer", None), getattr(_local, "records", None))
    _local.buffer, _local.records = capture.output, capture.records
    try:
        yield capture
    finally:
        _local.buffer, _local.records = previous
