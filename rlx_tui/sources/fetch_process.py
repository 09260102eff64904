"""Fetches in child processes: one per transfer slot, so lakeapi and pyarrow never hold the parent's GIL.

A fetch (lakeapi's ``load_data`` or the byte stream, the pandas and pyarrow
conversion, the canonical write and its sha256) holds the GIL for most of its
time. In threads, two fetches and the validator take turns, and the
dashboard's frames stretch while they do. Here each fetch runs in a child
(``sources/fetch_child.py``); the parent's fetch thread only waits on a pipe.

The pool is one per process, shared by every source (a request carries its
source's :class:`~rlx_tui.sources.fetch_wire.FetchSpec`), never holds more than
``workers`` children (at most 2) and replaces a child that ended (idle for
:data:`IDLE_SECONDS`, killed) before a request is sent, without counting it as
an attempt. A child started in its own session never sees the terminal's
Ctrl-C and cannot write to the screen; its stderr goes to the debug log
through the source's redaction. Cancelling asks the child to stop, and kills it after
a short grace (the slot's next fetch starts another); a child that dies
mid-fetch is a TRANSIENT failure.
``RLX_FETCH_IN_THREAD=1`` fetches in the parent's threads instead (an escape hatch).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlx_tui.logs import logger
from rlx_tui.sources import lakeapi_home
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, SourceError
from rlx_tui.sources.fetch_wire import read_frame, write_frame

IN_THREAD_ENV = "RLX_FETCH_IN_THREAD"
MAX_CHILDREN = 2  # the most transfers Crypto Lake allows at once
IDLE_SECONDS = 90.0  # a child ends after this long without a request (~200 MB each)
_SPARE_SECONDS = 10.0  # a child this close to its idle end is replaced, not sent a request
POLL_SECONDS = 0.05  # how often a waiting fetch thread looks at its cancel event
CANCEL_GRACE_SECONDS = 0.5  # a cancelled child that has not answered by then is killed
_SEND_TRIES = 3


def in_thread() -> bool:
    """Whether fetches run in the parent's threads (``RLX_FETCH_IN_THREAD=1``) rather than in children."""
    return os.environ.get(IN_THREAD_ENV, "").strip() not in ("", "0")


def prepare_fetching(data_dir: Path, workers: int = 2) -> None:
    """Get the first fetch ready, for a caller with time to spare (waiting for a demo lake to start):
    start the fetch processes (they import lakeapi and pyarrow meanwhile), or, fetching in threads,
    import them here."""
    if in_thread():
        import_fetching(data_dir)
    else:
        POOL.prepare(workers, child_home(data_dir))


def import_fetching(data_dir: Path) -> None:
    """Import what a fetch needs: lakeapi (its caches in ``data_dir``), pyarrow and both fetch paths."""
    lakeapi_home.import_lakeapi(Path(data_dir))
    importlib.import_module("rlx_tui.sources.fetch_load")
    importlib.import_module("rlx_tui.sources.fetch_stream")


def child_home(data_dir: Path) -> Path:
    """Where a child keeps lakeapi's caches: where this process keeps them, else the data directory."""
    return lakeapi_home.cache_home() or Path(data_dir).resolve()


class FetchChild:
    """One child process, with a thread reading its frames and one draining its stderr into the log."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.clean: Callable[[str], str] = lambda text: text  # the current request's redaction
        self.replies: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.last_used = time.monotonic()
        root = str(Path(__file__).resolve().parents[2])  # this rlx_tui, however this process found it
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, LOGURU_AUTOINIT="False", PYTHONPATH=path)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlx_tui.sources.fetch_child", str(home), str(IDLE_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # no Ctrl-C from the terminal, no controlling terminal
            close_fds=True,
            env=env,
        )
        self.pid = self.proc.pid
        for target, name in ((self._read, "frames"), (self._drain, "stderr")):
            threading.Thread(target=target, name=f"rlx-fetch-child {self.pid} {name}", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                more, message = read_frame(self.proc.stdout)
            except Exception:
                more = False
            if not more:
                self.replies.put(("gone",))
                return
            self.replies.put(message)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                logger.debug("fetch process {}: {}", self.pid, self.clean(text)[:500])

    def usable(self, home: Path) -> bool:
        """Alive, for this lakeapi home, and not about to end for being idle."""
        fresh = time.monotonic() - self.last_used < IDLE_SECONDS - _SPARE_SECONDS
        return self.proc.poll() is None and self.home == home and fresh

    def send(self, message: tuple[Any, ...]) -> bool:
        """Write one request; False if the child is gone."""
        try:
            assert self.proc.stdin is not None
            write_frame(self.proc.stdin, message)
            return True
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """Kill the child and reap it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # its session: anything it started goes too
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            logger.warning("fetch process {} did not end after SIGKILL", self.pid)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def ended(self) -> str:
        """How the child ended, in a few words."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "its pipe closed"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


class FetchPool:
    """At most ``size`` children (the run's workers, at most 2): idle ones wait for the next request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._idle: list[FetchChild] = []
        self._busy = 0
        self.size = MAX_CHILDREN
        self.started = 0  # children started by this pool (tests)

    def _spawn(self, home: Path) -> FetchChild:
        child = FetchChild(home)
        self.started += 1
        logger.debug("fetch process {} started (lakeapi caches in {})", child.pid, home)
        return child

    def prepare(self, workers: int, home: Path) -> None:
        """A run with ``workers`` slots starts: keep (or start now, to import while listing) that many."""
        with self._cond:
            self.size = max(1, min(workers, MAX_CHILDREN))
            keep = [c for c in self._idle if c.usable(home)]
            retire = [c for c in self._idle if c not in keep]
            retire += keep[max(0, self.size - self._busy) :]
            self._idle = [c for c in keep if c not in retire]
            missing = max(0, self.size - self._busy - len(self._idle))
            self._busy += missing  # reserved while they start
        for child in retire:
            child.stop()
        started = []
        try:
            started = [self._spawn(home) for _ in range(missing)]
        finally:
            with self._cond:
                self._busy -= missing
                self._idle.extend(started)
                self._cond.notify_all()

    def acquire(self, home: Path) -> FetchChild:
        """An idle child for ``home``, or a new one once fewer than ``size`` exist."""
        retire: list[FetchChild] = []
        with self._cond:
            while True:
                retire += [c for c in self._idle if not c.usable(home)]
                self._idle = [c for c in self._idle if c.usable(home)]
                if self._idle:
                    self._busy += 1
                    chosen: FetchChild | None = self._idle.pop()
                    break
                if self._busy < self.size:
                    self._busy += 1
                    chosen = None
                    break
                self._cond.wait()
        for child in retire:
            child.stop()
        if chosen is not None:
            return chosen
        try:
            return self._spawn(home)
        except BaseException:
            self.release(None, keep=False)
            raise

    def release(self, child: FetchChild | None, *, keep: bool) -> None:
        """Give a child back (``keep``: it answered and may take the next request), else end it."""
        if child is not None and not keep:
            child.stop()
        with self._cond:
            self._busy -= 1
            if child is not None and keep:
                child.last_used = time.monotonic()
                self._idle.append(child)
            self._cond.notify_all()

    def pids(self) -> list[int]:
        """The idle children's process ids (tests)."""
        with self._cond:
            return [c.pid for c in self._idle]

    def shutdown(self) -> None:
        """At exit: close the idle children's stdin (they end at once) and reap them, so their CPU time
        is counted as this process's children's; one that does not end within a second is killed."""
        with self._cond:
            idle, self._idle = self._idle, []
        for child in idle:
            if child.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    child.proc.stdin.close()
        for child in idle:
            try:
                child.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                child.stop()

    def forget(self) -> None:
        """In a forked copy of this process: the children are the original's (never used, never killed)."""
        self._cond = threading.Condition()
        self._idle, self._busy = [], 0


POOL = FetchPool()
os.register_at_fork(after_in_child=POOL.forget)
atexit.register(POOL.shutdown)


def fetch_in_child(
    request: tuple[Any, ...], cancel: threading.Event, clean: Callable[[str], str]
) -> tuple[FetchResult | SourceError | Cancelled, int, bool]:
    """A fetch request (``fetch``, spec, login answer, key, objects, directory) answered by a child:
    the result or the SourceError it failed with, the bytes that arrived and whether they were
    streamed. The child's log records are logged here (through ``clean``). Raises Cancelled once
    ``cancel`` is set (the child is killed), and a TRANSIENT SourceError when the child ends before
    it answered.
    """
    spec, what = request[1], str(request[3])
    reply = _exchange(request, child_home(spec.data_dir), cancel, clean, what)
    if reply[0] == "done":
        return reply[1], reply[2], reply[3]
    if reply[0] == "cancelled":
        return Cancelled(what), reply[1], reply[2]
    _, kind, cause, evidence, arrived, streamed = reply
    return SourceError(ErrorKind(kind), clean(cause), evidence), arrived, streamed


def _exchange(
    request: tuple[Any, ...], home: Path, cancel: threading.Event, clean: Callable[[str], str], what: str
) -> tuple[Any, ...]:
    """The child's final reply to ``request`` (``done``, ``error`` or ``cancelled``, then the tally),
    re-emitting its logs. Once ``cancel`` is set the child is asked to stop (the streaming path stops
    at its next chunk and still reports the bytes that arrived); one that has not answered within
    :data:`CANCEL_GRACE_SECONDS` (lakeapi's ``load_data`` never looks) is killed and Cancelled raised.
    A child that ends before it answered is a TRANSIENT SourceError.
    """
    for _ in range(_SEND_TRIES):
        child = POOL.acquire(home)
        child.clean = clean
        if child.send(request):
            break
        POOL.release(child, keep=False)  # gone before the request: replaced, not an attempt
    else:
        raise SourceError(ErrorKind.TRANSIENT, f"{what}: no fetch process could be started")
    keep = False
    cancelled_at: float | None = None
    try:
        while True:
            if cancel.is_set() and cancelled_at is None:
                cancelled_at = time.monotonic()  # asked to stop at its next check, killed after the grace
                if not child.send(("cancel",)):
                    raise Cancelled(what)
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                raise Cancelled(what)
            try:
                message = child.replies.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if message[0] == "log":
                logger.log(message[1], "{}", clean(message[2]))
                continue
            if message[0] == "gone":
                if cancelled_at is not None:
                    raise Cancelled(what)
                ended = child.ended()
                raise SourceError(
                    ErrorKind.TRANSIENT, f"{what}: the fetch process ended mid-fetch ({ended}), retrying"
                )
            keep = True
            return ("cancelled", *message[-2:]) if cancelled_at is not None else message
    finally:
        POOL.release(child, keep=keep)
