"""The engine, hosted: the ONE module of :mod:`rlx_tui.runs` that knows the service's and the engine's API.

It opens the workspace the way the CLI does (:func:`rlx_tui.service.open_workspace`,
which starts the demo lake for the demo source), holds the data directory's lock
(:meth:`rlx_tui.staging.StagingStore.lock`) for the whole run, and runs
``Workspace.engine().run(request, events)`` once per pass. When issue 12's
use-case layer (a ``RunHandle`` with ``events()``, pause/resume/stop/retry and a
result) lands, this module is adapted and nothing else in the package changes.
"""

from __future__ import annotations

import contextlib
from typing import Any

from anyio.streams.memory import MemoryObjectSendStream

from rlx_tui.engine.run import Engine
from rlx_tui.events import Event, RunFinished
from rlx_tui.runs.spec import HostSpec
from rlx_tui.service import Workspace, open_workspace


class HostedEngine:
    """One request, run pass by pass against one open workspace."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.workspace: Workspace | None = None
        self.engine: Engine | None = None
        self._stack = contextlib.ExitStack()

    def open(self) -> None:
        """Open the source and the store and take the data directory's lock (blocking: in a thread).

        Raises whatever stands in the way (StoreBusy, the demo lake failing, a link in
        the data directory...): the host turns it into the run's one-line failure.
        """
        workspace = self._stack.enter_context(open_workspace(self.spec.settings))
        self._stack.enter_context(workspace.store.lock(allow_nested=True))  # the engine's lock() nests
        self.workspace = workspace

    def close(self) -> None:
        """Release the lock and close the source (blocking)."""
        self._stack.close()

    async def run_pass(
        self, events: MemoryObjectSendStream[Event], *, retry_quarantined: bool, paused: bool = False
    ) -> RunFinished:
        """One engine run of the request (it closes ``events`` when done)."""
        if self.workspace is None:
            raise RuntimeError("open() first")
        options: dict[str, Any] = {"force_disk": self.spec.force_disk}
        engine = self.workspace.engine(**options)
        self.engine = engine
        if paused:
            engine.pause()
        return await engine.run(self.spec.request, events, retry_quarantined=retry_quarantined)

    # -- steering (from the event loop's thread) ---------------------------------------------------
    def pause(self) -> None:
        if self.engine is not None:
            self.engine.pause()

    def resume(self) -> None:
        if self.engine is not None:
            self.engine.resume()

    def stop(self, abort: bool) -> None:
        if self.engine is not None:
            self.engine.stop(abort=abort)

    @property
    def active_transfers(self) -> int:
        """Fetch calls still running (abandoned ones included)."""
        return self.engine.active_transfers if self.engine is not None else 0
