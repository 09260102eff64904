"""The engine, hosted: the ONE module of :mod:`rlx_tui.runs` that knows the service's API.

It opens the workspace the way the CLI does (:func:`rlx_tui.service.open_workspace`,
which starts the demo lake for the demo source), holds the data directory's lock
(:meth:`rlx_tui.staging.StagingStore.lock`) for the whole run, and runs each pass
through the service's :func:`~rlx_tui.service.start_run` and
:class:`~rlx_tui.service.RunHandle`: the same code path as ``rlx-tui download`` in
the foreground and the dashboard's own runs (the service's failures bookkeeping,
its pause, resume and stop, and its one wait for abandoned transfers on exit).
"""

from __future__ import annotations

import contextlib

from anyio.streams.memory import MemoryObjectSendStream

from rlx_tui.events import Event, RunFinished
from rlx_tui.runs.spec import HostSpec
from rlx_tui.service import RunHandle, Workspace, leave_if_transfers_stuck, open_workspace, start_run


class HostedEngine:
    """One request, run pass by pass (one :class:`RunHandle` each) against one open workspace."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.workspace: Workspace | None = None
        self.handle: RunHandle | None = None  # the current (or last) pass
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
        """One run of the request through the service (``events`` is closed when it is done)."""
        if self.workspace is None:
            raise RuntimeError("open() first")
        handle = start_run(self.workspace, self.spec.request, force_disk=self.spec.force_disk)
        self.handle = handle
        if paused:
            handle.pause()
        return await handle.run(events, retry_quarantined=retry_quarantined)

    # -- steering (from the event loop's thread) ---------------------------------------------------
    def pause(self) -> None:
        if self.handle is not None:
            self.handle.pause()

    def resume(self) -> None:
        if self.handle is not None:
            self.handle.resume()

    def stop(self, abort: bool) -> None:
        if self.handle is not None:
            self.handle.stop(abort=abort)

    @property
    def active_transfers(self) -> int:
        """Fetch calls still running (abandoned ones included)."""
        return self.handle.active_transfers if self.handle is not None else 0

    def leave(self, code: int) -> None:
        """The service's exit policy: wait for abandoned transfers, leave at once with ``code`` if stuck."""
        if self.handle is not None and not self.handle.wait_for_transfers_blocking():
            leave_if_transfers_stuck(self.handle, code)
