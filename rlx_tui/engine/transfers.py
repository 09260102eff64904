"""Transfer slots: at most ``size`` fetches from the source at once, abandoned ones included."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from rlx_tui.sources.base import Cancelled

T = TypeVar("T")


class TransferSlots:
    """Runs each fetch on a daemon thread that holds one of ``size`` slots while it runs.

    The slot is held by the thread itself, not by the task waiting for it: a
    fetch abandoned after a deadline or an abort keeps its slot until the call
    really returns, so no more than ``size`` transfers ever run at once.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.active = 0  # fetch calls running now (abandoned ones included)
        self.max_active = 0  # the most that ever ran at once

    async def run(self, call: Callable[[], T], cancel: threading.Event, name: str) -> T:
        """The result of ``call()``, run on its own thread once a slot is free.

        If this wait is cancelled, the thread is abandoned: it finishes (or
        notices ``cancel`` at its next check) on its own, and being a daemon
        never blocks the process from exiting. A thread that gets its slot
        after ``cancel`` was set does not call at all and raises ``Cancelled``.
        """
        done = anyio.Event()
        outcome: dict[str, object] = {}
        token = anyio.lowlevel.current_token()

        def target() -> None:
            with self._slots:
                if cancel.is_set():
                    outcome["error"] = Cancelled(name)
                else:
                    with self._lock:
                        self.active += 1
                        self.max_active = max(self.max_active, self.active)
                    try:
                        outcome["result"] = call()
                    except BaseException as exc:
                        outcome["error"] = exc
                    finally:
                        with self._lock:
                            self.active -= 1
            # the loop may be gone (run over): then nobody is waiting any more
            with contextlib.suppress(Exception):
                anyio.from_thread.run_sync(done.set, token=token)

        thread = threading.Thread(target=target, name=f"rlx-fetch {name}", daemon=True)
        # start() waits for the new thread to run, which under load (the GIL held by busy threads)
        # took 20-35 ms: a pause of the event loop, and of the dashboard drawn on it, per fetch
        await anyio.to_thread.run_sync(thread.start)
        await done.wait()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["result"]  # type: ignore[return-value]
