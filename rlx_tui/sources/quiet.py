"""Keep lakeapi's prints, tqdm bars, warnings and log records off the terminal, and undo that on exit.

lakeapi prints warnings with ``print()``, draws tqdm bars on stderr and logs
"No data available" through ``logging`` when it skips an unreadable object;
it creates its caches relative to the working directory when first imported.

:func:`library_effects` is the one context manager that holds these process-wide
changes, entered by the entry points (``rlx_tui.cli.program.main`` and the
dashboard) for their lifetime and undone on exit: ``sys.stdout`` and
``sys.stderr`` are routed per thread, ``warnings.showwarning`` is wrapped,
lakeapi's, botocache's and awswrangler's loggers get a capturing handler, and
``TQDM_DISABLE`` / ``AWS_MAX_ATTEMPTS`` get defaults. Everything is put back as
it was found when the outermost one exits (they nest). The working directory
changes only inside :func:`lakeapi_working_directory`, while lakeapi is first
imported (``sources/lakeapi_home.py``), and is restored right after.

Inside :func:`captured`, everything a thread writes or logs is collected for
that thread alone (so two workers and the UI do not see each other's output)
and handed back; the caller logs it and can inspect it. Used outside any entry
point (a library caller, a test), :func:`captured` holds the effects itself
for its own duration.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rlx_tui.logs import logger

_local = threading.local()
_install_lock = threading.Lock()


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


# What the library's loggers get while the effects are held.
_LIBRARY_LOGGERS = ("lakeapi", "botocache", "awswrangler")
# Environment defaults while the effects are held: no tqdm bars; one botocore retry inside
# lakeapi, rlx-tui's own backoff sits above it, so the two do not multiply (LAKEAPI-NOTES 4).
_ENV_DEFAULTS = {"TQDM_DISABLE": "1", "AWS_MAX_ATTEMPTS": "2"}


@dataclass
class _Saved:
    """What the outermost :func:`library_effects` found, to put back on exit."""

    stdout: TextIO
    stderr: TextIO
    showwarning: Any
    loggers: dict[str, tuple[list[logging.Handler], bool, int]]
    env_added: list[str] = field(default_factory=list)


_depth = 0
_saved: _Saved | None = None


def _install() -> _Saved:
    saved = _Saved(
        stdout=sys.stdout,
        stderr=sys.stderr,
        showwarning=warnings.showwarning,
        loggers={},
    )
    for name, value in _ENV_DEFAULTS.items():
        if name not in os.environ:
            os.environ[name] = value
            saved.env_added.append(name)
    if not isinstance(sys.stdout, _ThreadRoutedStream):
        sys.stdout = _ThreadRoutedStream(sys.stdout)
    if not isinstance(sys.stderr, _ThreadRoutedStream):
        sys.stderr = _ThreadRoutedStream(sys.stderr)
    handler = _ThreadRoutedHandler(level=logging.DEBUG)
    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        saved.loggers[name] = (list(library_logger.handlers), library_logger.propagate, library_logger.level)
        library_logger.addHandler(handler)
        library_logger.propagate = False
        library_logger.setLevel(logging.WARNING)
    original_showwarning = warnings.showwarning

    def _showwarning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        buffer = getattr(_local, "buffer", None)
        if buffer is not None:
            buffer.append(f"{category.__name__}: {message}\n")
        else:
            original_showwarning(message, category, *args, **kwargs)

    warnings.showwarning = _showwarning
    return saved


def _restore(saved: _Saved) -> None:
    sys.stdout, sys.stderr = saved.stdout, saved.stderr
    warnings.showwarning = saved.showwarning
    for name, (handlers, propagate, level) in saved.loggers.items():
        library_logger = logging.getLogger(name)
        library_logger.handlers[:] = handlers
        library_logger.propagate = propagate
        library_logger.setLevel(level)
    for name in saved.env_added:
        os.environ.pop(name, None)


@contextmanager
def library_effects() -> Iterator[None]:
    """Hold lakeapi's process-wide output routing (see the module docstring); undone by the outermost exit."""
    global _depth, _saved
    with _install_lock:
        if _depth == 0:
            _saved = _install()
        _depth += 1
    try:
        yield
    finally:
        with _install_lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                _restore(_saved)
                _saved = None


def effects_active() -> bool:
    """True while some :func:`library_effects` is held."""
    return _depth > 0


@contextmanager
def lakeapi_working_directory(path: Path) -> Iterator[None]:
    """Work in ``path`` for the duration (lakeapi's first import puts its caches there), then go back."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


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
    capture = Capture()
    with library_effects():
        previous = (getattr(_local, "buffer", None), getattr(_local, "records", None))
        _local.buffer, _local.records = capture.output, capture.records
        try:
            yield capture
        finally:
            _local.buffer, _local.records = previous
