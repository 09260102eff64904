"""Start, pause, resume and stop a run, and wait for its abandoned transfers: once, for both faces.

:func:`start_run` gives a :class:`RunHandle`; the face awaits :meth:`RunHandle.run`
with a stream for the events (the CLI prints them, the dashboard folds them), and
steers it with :meth:`~RunHandle.pause`, :meth:`~RunHandle.resume` and
:meth:`~RunHandle.stop`. When a face exits while fetch threads the run abandoned
are still inside a library call, :meth:`RunHandle.wait_for_transfers` waits at most
:data:`EXIT_GRACE_SECONDS`, and :func:`leave_if_transfers_stuck` applies the one
exit policy: a thread still busy inside pyarrow while the interpreter finalises
aborts the process, so the process then leaves without finalising (after flushing
its log and streams). They can only write into attempt directories already discarded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ObjectSendStream

from rlx_tui.events import Event, PartitionFailed, RunFinished, Validated
from rlx_tui.kinds import ErrorKind
from rlx_tui.logs import logger
from rlx_tui.partitions import Request

if TYPE_CHECKING:
    from rlx_tui.engine.run import Engine
    from rlx_tui.service.workspace import Workspace
    from rlx_tui.sources.base import Listing

EXIT_GRACE_SECONDS = 15.0  # the longest wait for abandoned transfers before a face exits
_POLL_SECONDS = 0.05


class RunHandle:
    """One run of one request on a workspace's engine (create it with :func:`start_run`)."""

    def __init__(self, ws: Workspace, engine: Engine, request: Request) -> None:
        self.workspace = ws
        self.engine = engine  # read by tests and benchmarks (instrumentation); faces use the methods
        self.request = request
        self.result: RunFinished | None = None

    # -- the run ------------------------------------------------------------------------
    async def run(
        self,
        send: ObjectSendStream[Event],
        *,
        retry_quarantined: bool = False,
        listing: Listing | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> RunFinished:
        """Run to the end (or a stop); every event goes to ``send``, which is closed afterwards.

        Partitions that fail (not missing at the source) are remembered on the
        workspace, so a certificate's blockers name the cause.
        """
        inner_send, inner_receive = anyio.create_memory_object_stream[Event](1000)

        async def forward() -> None:
            async with inner_receive, send:
                async for event in inner_receive:
                    self._note(event)
                    if on_event is not None:
                        on_event(event)
                    await send.send(event)

        async with anyio.create_task_group() as tg:
            tg.start_soon(forward)
            async with inner_send:
                result = await self.engine.run(
                    self.request, inner_send, retry_quarantined=retry_quarantined, listing=listing
                )
        self.result = result
        return result

    def _note(self, event: Event) -> None:
        failures = self.workspace.failures
        if isinstance(event, PartitionFailed):
            if event.kind is ErrorKind.MISSING:
                failures.pop(event.key, None)
            else:
                failures[event.key] = event.cause
        elif isinstance(event, Validated):
            failures.pop(event.key, None)

    # -- steering (from the event loop's thread) ---------------------------------------------
    @property
    def paused(self) -> bool:
        return self.engine.paused

    def pause(self) -> None:
        self.engine.pause()

    def resume(self) -> None:
        self.engine.resume()

    def toggle_pause(self) -> None:
        """Pause a running run, or resume a paused one."""
        if self.engine.paused:
            self.engine.resume()
        else:
            self.engine.pause()

    def stop(self, abort: bool = False) -> None:
        """Stop taking new partitions; ``abort`` also abandons those in flight (the engine cleans up)."""
        self.engine.stop(abort=abort)

    # -- leaving ------------------------------------------------------------------------
    @property
    def active_transfers(self) -> int:
        """Fetch calls still running, abandoned ones included."""
        return self.engine.active_transfers

    async def wait_for_transfers(
        self, limit: float = EXIT_GRACE_SECONDS, on_wait: Callable[[int], None] | None = None
    ) -> bool:
        """Wait (asynchronously) until no fetch call runs, at most ``limit`` seconds; True if none does."""
        deadline = time.monotonic() + limit
        while self.active_transfers > 0 and time.monotonic() < deadline:
            if on_wait is not None:
                on_wait(self.active_transfers)
            await anyio.sleep(_POLL_SECONDS)
        return self.active_transfers == 0

    def wait_for_transfers_blocking(self, limit: float = EXIT_GRACE_SECONDS) -> bool:
        """:meth:`wait_for_transfers` for a caller outside an event loop."""
        deadline = time.monotonic() + limit
        while self.active_transfers > 0 and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        return self.active_transfers == 0


def start_run(ws: Workspace, request: Request, *, force_disk: bool = False) -> RunHandle:
    """A run of ``request``: the source is asked again how to download each table."""
    return RunHandle(ws, ws.engine(force_disk=force_disk), request)


def leave_if_transfers_stuck(handle: RunHandle | None, code: int) -> None:
    """The exit policy: if ``handle``'s transfers are still running after the wait, leave now with ``code``.

    Call after :meth:`RunHandle.wait_for_transfers`; returns when nothing is stuck.
    """
    if handle is None or handle.active_transfers == 0:
        return
    logger.warning("{} abandoned transfer(s) still running at exit", handle.active_transfers)
    logger.complete()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
