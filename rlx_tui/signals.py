"""SIGINT, SIGTERM and SIGHUP in every headless command: one line, a clean stop, exit 130.

:func:`install` makes the three signals raise :class:`Interrupted` in the main
thread (Ctrl-C's KeyboardInterrupt included), so ``finally`` blocks run: the
demo lake stops, temporary files are removed, locks are released. The first
signal wins; later ones only log (a second Ctrl-C must not turn the clean-up
into a traceback). Inside :func:`deferred` (a zone move: two renames that
belong together) a signal waits until the block is done.

``download`` watches the same signals itself while the engine runs (anyio),
with the same exit code, so every command behaves alike.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

HANDLED: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_INTERRUPTED = 130  # the same for SIGINT, SIGTERM and SIGHUP (documented in the README)


class Interrupted(KeyboardInterrupt):
    """A signal asked the command to stop. A KeyboardInterrupt, so code that handles Ctrl-C handles it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


@dataclass
class _SignalState:
    """What the handler knows: nesting of :func:`deferred`, a held-back signal, whether one was raised."""

    depth: int = 0
    pending: int | None = None
    raised: bool = False


_state = _SignalState()
_lock = threading.RLock()  # re-entrant: the handler runs in the main thread, maybe inside deferred()


def _handler(signum: int, frame: FrameType | None) -> None:
    with _lock:
        if _state.raised or _state.pending is not None:
            return  # already stopping: let the clean-up finish
        if _state.depth:
            _state.pending = signum
            return
        _state.raised = True
    raise Interrupted(signum)


def install() -> None:
    """Route the handled signals to :class:`Interrupted` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        _state.depth, _state.pending, _state.raised = 0, None, False
    for sig in HANDLED:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, _handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold back a signal until the block is done (main thread; other threads never receive them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _lock:
        _state.depth += 1
    try:
        yield
    finally:
        with _lock:
            _state.depth -= 1
            pending = _state.pending if _state.depth == 0 else None
            if pending is not None:
                _state.pending = None
                _state.raised = True
        if pending is not None:
            raise Interrupted(pending)
