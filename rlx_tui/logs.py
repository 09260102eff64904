"""Logging: loguru into ``<data_dir>/logs/rlx-tui.log``, never the terminal, never a traceback of its own.

* :func:`quiet_start` drops loguru's default stderr handler (active from
  import, with variable values in its tracebacks) and sends the standard
  library's ``logging`` and ``warnings`` through loguru; every process
  rlx-tui starts calls it first.
* :func:`setup_logging` adds one sink, :class:`LogFile`: opened without
  following links, rotated by size, secrets scrubbed from every line
  (tracebacks included). A write that fails (a full disk) disables the sink
  and is remembered in :attr:`LogFile.failure`; nothing is printed, nothing raised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loguru import Record

from rlx_tui import fs_guard
from rlx_tui.secret import Secret
from rlx_tui.settings import redact

LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {message}"
LOG_NAME = "rlx-tui.log"
ROTATE_BYTES = 20_000_000
KEEP_ROTATED = 10


@dataclass
class _LogState:
    """This process's log set-up: its file sink and whether :func:`setup_logging` chose the sinks."""

    sink: LogFile | None = None
    configured: bool = False


_current = _LogState()


_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_pending: list[Callable[[Any], None]] = []  # sink set-ups waiting for loguru's first use
_pending_lock = threading.Lock()


def _loguru() -> Any:
    """loguru's logger, with the sinks :func:`setup_logging` chose before loguru was imported."""
    from loguru import logger as loguru_logger

    if _pending:
        with _pending_lock:
            while _pending:
                _pending.pop(0)(loguru_logger)
    return loguru_logger


class _LazyLogger:
    """loguru's logger, imported on first use: loguru imports asyncio (about 0.1 s), which
    ``--help`` and ``status`` need not pay. ``from rlx_tui.logs import logger`` is a drop-in."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_loguru(), name)


logger: Any = _LazyLogger()


class _ToLoguru(logging.Handler):
    """Standard-library records (botocore, urllib3, dotenv, asyncio...) into loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=0).log(level, "{}: {}", record.name, record.getMessage())


def quiet_start() -> None:
    """Nothing reaches the terminal through logging until a sink is set up (and then only the file).

    When loguru is not imported yet it is not imported for this: it is told (its
    ``LOGURU_AUTOINIT`` setting) to start without its stderr sink whenever it is.
    """
    if "loguru" in sys.modules:
        logger.remove()
    else:
        os.environ["LOGURU_AUTOINIT"] = "False"
    root = logging.getLogger()
    if not any(isinstance(handler, _ToLoguru) for handler in root.handlers):
        root.addHandler(_ToLoguru())  # also keeps logging's "last resort" stderr handler out
    logging.captureWarnings(True)


class LogFile:
    """A loguru sink: appends to ``path`` beneath ``data_dir``; rotation keeps ``keep`` old files."""

    def __init__(
        self,
        data_dir: Path,
        path: Path,
        secrets: tuple[str | Secret, ...] = (),
        max_bytes: int = ROTATE_BYTES,
        keep: int = KEEP_ROTATED,
    ) -> None:
        self.data_dir = data_dir
        self.path = path
        self.secrets = secrets
        self.max_bytes = max_bytes
        self.keep = keep
        self.failure: OSError | None = None
        self._fd: int | None = None
        self._size = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        """Open (creating) the file; raises OSError (a link, no space, permissions)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._fd = fs_guard.open_file(self.data_dir, self.path, flags, 0o600)
        self._size = os.fstat(self._fd).st_size

    def __call__(self, message: Any) -> None:
        with self._lock:
            if self.failure is not None or self._fd is None:
                return
            data = redact(str(message), self.secrets).encode("utf-8", "replace")
            try:
                if self._size and self._size + len(data) > self.max_bytes:
                    self._rotate()
                written = os.write(self._fd, data)
                self._size += written
                if written != len(data):
                    raise OSError(28, "No space left on device")
            except OSError as exc:
                self.failure = exc
                self._close()

    def _rotate(self) -> None:
        self._close()
        fs_guard.remove(self.data_dir, self.path.with_name(f"{self.path.name}.{self.keep}"))
        for number in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if fs_guard.lstat(self.data_dir, older) is not None:
                fs_guard.rename(self.data_dir, older, self.path.with_name(f"{self.path.name}.{number + 1}"))
        fs_guard.rename(self.data_dir, self.path, self.path.with_name(f"{self.path.name}.1"))
        self.open()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _quiet_sink(sink: Callable[[str], Any]) -> Callable[[Any], None]:
    def write(message: Any) -> None:
        with contextlib.suppress(Exception):  # a UI that went away must not print "Logging error"
            sink(str(message))

    return write


def quiet_unless_configured() -> None:
    """:func:`quiet_start`, unless :func:`setup_logging` already chose this process's sinks."""
    if _current.sink is None and not _current.configured:
        quiet_start()


def reset() -> None:
    """Forget this process's log set-up (closing the file): for a test that ran ``cli.main`` itself."""
    sink = _current.sink
    if sink is not None:
        sink.close()
    _current.sink = None
    _current.configured = False
    with _pending_lock:
        _pending.clear()
    logger.remove()


def current_log() -> LogFile | None:
    """The file sink of this process (to ask whether writing it failed)."""
    return _current.sink


def setup_logging(
    data_dir: Path,
    level: str = "INFO",
    secrets: tuple[str | Secret, ...] = (),
    extra_sink: Callable[[str], Any] | None = None,
    *,
    create: bool = True,
) -> Path | None:
    """Send logs to ``<data_dir>/logs/rlx-tui.log`` (rotated at 20 MB, 10 kept), never the terminal.

    ``create=False`` logs only into an existing ``logs`` directory (verify
    writes nothing anywhere else) and returns None when there is none.
    ``extra_sink`` receives each formatted line too (the TUI's log panel).
    When loguru is not imported yet, the first line is written to the file
    directly and loguru is set up with these sinks on its first use through
    :data:`logger` (a ``status`` that logs nothing never imports it); code that
    imports loguru itself must do so before calling this.
    Raises OSError when the log cannot be opened or its first line written
    (a link, a full disk); :class:`~rlx_tui.fs_guard.UnsafePathError` for a link.
    """
    quiet_start()
    _current.configured = True
    data_dir = Path(data_dir)
    log_dir = data_dir / "logs"
    old = _current.sink
    if old is not None:
        old.close()
    _current.sink = None

    def scrub(record: Record) -> None:
        record["message"] = redact(str(record["message"]), secrets)

    if create:
        fs_guard.ensure_dir(data_dir, log_dir, 0o700)
    elif not fs_guard.check_dir(data_dir, log_dir):
        return None
    path = log_dir / LOG_NAME
    sink = LogFile(data_dir, path, secrets)
    sink.open()
    _current.sink = sink

    def configure(log: Any) -> None:
        log.configure(patcher=scrub)
        # diagnose=False: tracebacks never show variable values (credentials among them)
        log.add(sink, level=level, format=LOG_FORMAT, diagnose=False, backtrace=False, catch=False)
        if extra_sink is not None:
            log.add(
                _quiet_sink(extra_sink),
                level=level,
                format="{time:HH:mm:ss} {level: <7} {message}",
                colorize=False,
                diagnose=False,
                catch=False,
            )

    with _pending_lock:
        _pending.clear()  # an earlier set-up that never logged is replaced by this one
    if "loguru" in sys.modules or extra_sink is not None:
        configure(_loguru())
        logger.info("rlx-tui started (pid {})", os.getpid())  # also proves the file can be written
    else:  # loguru loads when something is first logged (``status`` may log nothing at all)
        with _pending_lock:
            _pending.append(configure)
        if _LEVELS.get(level.upper(), 20) <= _LEVELS["INFO"]:
            stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            sink(f"{stamp} | INFO    | rlx-tui started (pid {os.getpid()})\n")  # LOG_FORMAT's layout
    if sink.failure is not None:
        raise sink.failure
    return path
