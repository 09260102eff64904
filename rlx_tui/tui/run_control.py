"""The engine's run lifecycle: start, pause/resume, stop, retry, fold its events, and stop it to quit."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectSendStream

from rlx_tui.events import Event, PartitionFailed, PlanReady, RecoveryDone, RunFinished, Validated
from rlx_tui.partitions import Request
from rlx_tui.service import EXIT_GRACE_SECONDS, RunHandle, start_run
from rlx_tui.tui.attach import Attachment
from rlx_tui.tui.errors import run_next_step
from rlx_tui.tui.heap import freeze_heap
from rlx_tui.tui.last_request import last_request_path, write_last_request
from rlx_tui.tui.messages import Task, guarded, in_thread
from rlx_tui.tui.screens import ConfirmScreen
from rlx_tui.tui.text import human_seconds

if TYPE_CHECKING:
    from rlx_tui.tui.app import RlxApp

WARM_UP_FREEZES = frozenset({2, 6})  # freeze the heap again once both workers are warm
# Events after which the store's zones are worth scanning again.
STORE_CHANGING_EVENTS = PlanReady | Validated | RecoveryDone | PartitionFailed | RunFinished


class RunControl:
    """Runs ``engine.run`` for the app's request as an async worker, a second worker folding its events.

    Or, when the data directory has a live detached run, follows that one instead
    (:attr:`attachment`): the keys then go to its socket, and leaving detaches.
    The app owns one; an error in its workers arrives as a :class:`~.messages.TaskFailed`.
    """

    def __init__(self, app: RlxApp) -> None:
        self._app = app
        self.handle: RunHandle | None = None  # the current (or last) run
        self.last_result: RunFinished | None = None
        self.events_seen = 0  # instrumentation (benchmark): events folded
        self.freeze_seconds: list[float] = []  # instrumentation (benchmark): each freeze_heap()
        self.quitting = False
        self._run_done = asyncio.Event()
        self._run_done.set()
        self._validated = 0
        self.attachment = Attachment(app, self.fold)

    @property
    def attached(self) -> bool:
        """True while the dashboard follows a detached run (its keys go to the run's socket)."""
        return self.attachment.live

    def attach_to_live_run(self) -> None:
        """Show the data directory's live detached run, if there is one (else say how the last ended)."""
        self.attachment.look_for_run()

    # -- starting and steering --------------------------------------------------------------------
    def start(self, request: Request, retry_quarantined: bool = False) -> bool:
        """Start acquiring ``request`` (resumes: ready partitions are skipped). False if refused."""
        app = self._app
        if self.attached:
            if retry_quarantined:
                self.attachment.retry()
                return True
            number = self.attachment.run.number if self.attachment.run else "?"
            app.notify(f"Run {number} is running in the background: x stops it.", severity="warning")
            return False
        if app.workspace is None:
            app.notify("The source is not open yet.", severity="warning")
            return False
        if app.state.run_active:
            app.notify("A run is already in progress.", severity="warning")
            return False
        app.request = request
        app.state.begin(request)
        app.state.set_error(None)
        self._remember(request, finished=False)
        app.show_dashboard()
        self.handle = None  # the last run's engine is garbage now: collected, not frozen
        self.freeze_seconds.append(freeze_heap())
        handle = start_run(app.workspace, request)
        self.handle = handle
        send, receive = anyio.create_memory_object_stream[Event](1000)
        self._run_done = asyncio.Event()
        guarded(app, Task.EVENTS, self._consume(receive))
        guarded(app, Task.RUN, self._run(handle, send, retry_quarantined))
        app.refresh_bindings()
        return True

    def toggle_pause(self) -> None:
        """Pause a running run, or resume a paused one."""
        if self.attached:
            self.attachment.toggle_pause()
            return
        if self.handle is not None and self._app.state.run_active:
            self.handle.toggle_pause()

    def stop(self) -> None:
        """Stop after the partitions in flight (the next start resumes)."""
        if self.attached:
            self.attachment.stop()
            return
        if self.handle is not None and self._app.state.run_active:
            self.handle.stop(abort=False)

    def failed(self, text: str) -> None:
        """The run or its event worker died on an unexpected error (already logged)."""
        state = self._app.state
        state.phase = "failed"
        state.set_error(f"The run stopped on an unexpected error: {text} (details in the log). Press s.")
        self._run_done.set()

    def _remember(self, request: Request, finished: bool) -> None:
        """Keep ``request`` as the last one (in a thread), unless the options say not to."""
        app = self._app
        if not app.options.remember:
            return
        write = partial(write_last_request, last_request_path(app.settings.data_dir), request, finished)
        in_thread(app, Task.REMEMBER, write, None)

    # -- the workers -------------------------------------------------------------------------------
    async def _run(
        self, handle: RunHandle, send: MemoryObjectSendStream[Event], retry_quarantined: bool
    ) -> RunFinished:
        try:
            return await handle.run(send, retry_quarantined=retry_quarantined)
        finally:
            send.close()
            self._run_done.set()

    async def _consume(self, receive: ObjectReceiveStream[Event]) -> None:
        async with receive:
            async for event in receive:
                self.fold(event)

    def fold(self, event: Event) -> None:
        """One event of the run (in-process or followed) into the dashboard's state."""
        self.events_seen += 1
        self._app.state.apply(event)
        if isinstance(event, STORE_CHANGING_EVENTS):
            self._app.redrawer.store_changed()
        if isinstance(event, Validated):
            self._validated += 1
            if self._validated in WARM_UP_FREEZES and not self.attached:  # no workers here when attached
                # the workers' clients and caches exist now: keep GC off them
                self.freeze_seconds.append(freeze_heap())
        if isinstance(event, RunFinished):
            self._finished(event)

    def _finished(self, event: RunFinished) -> None:
        app = self._app
        self.last_result = event
        if event.fatal:
            step = run_next_step(event.fatal_kind)
            app.state.set_error(f"Run stopped: {event.fatal}. Next: {step}.")
            app.notify(event.fatal, title="Run stopped", severity="error", timeout=10)
        elif event.stopped:
            app.notify("Stopped. Press s to resume where it left off.", title="Run stopped")
        else:
            blocker = app.state.certify_blocker()
            message = "Everything is ready: press c to certify." if blocker is None else blocker
            app.notify(message, title=f"Run finished in {human_seconds(event.seconds)}")
        if app.request is not None:
            self._remember(app.request, finished=event.all_ready)
        app.refresh_bindings()

    # -- quitting ----------------------------------------------------------------------------------
    def quit(self) -> None:
        """Exit; while a run is in progress, ask first (yes stops it, see :meth:`shutdown`)."""
        app = self._app
        if self.quitting:
            return
        if self.attached:
            self.attachment.ask_to_leave(self._detach)
            return
        if app.state.run_active and self.handle is not None:
            question = (
                "A run is in progress.\n\nStop it and quit? Partitions in flight are discarded "
                "(nothing partial is kept); the next launch resumes where this one stopped."
            )
            app.push_screen(
                ConfirmScreen(question, yes="Stop and quit", no="Keep running"), self._quit_answer
            )
            return
        self.quitting = True
        app.exit(0, return_code=0)

    def _quit_answer(self, yes: bool | None) -> None:
        if yes:
            self._app.shutdown(0)

    def shutdown(self, code: int = 0) -> None:
        """Stop the run (abandoning in-flight partitions, which the engine cleans up), then exit.

        Attached to a detached run, only detach (the terminal went away: the run goes on).
        """
        if self.quitting:
            return
        if self.attached:
            self._detach(code)
            return
        self.quitting = True
        guarded(self._app, Task.SHUTDOWN, self._stop_and_exit(code))

    def _detach(self, code: int = 0) -> None:
        """Leave the dashboard; the detached run goes on."""
        if self.quitting:
            return
        self.quitting = True
        self._app.exit(code, return_code=code)

    async def _stop_and_exit(self, code: int) -> None:
        app = self._app
        handle = self.handle
        if handle is not None and app.state.run_active:
            app.state.set_error("Stopping: cleaning up partitions in flight…")
            app.refresh_now()
            handle.stop(abort=True)
            await self._run_done.wait()
        if handle is not None:
            await self._let_transfers_finish(handle)
        app.exit(code, return_code=code)

    async def _let_transfers_finish(self, handle: RunHandle, limit: float = EXIT_GRACE_SECONDS) -> None:
        """Give abandoned fetch threads a moment to notice the cancel and return before the process exits.

        The wait and its limit are the service's (the CLI waits the same way); what
        is still running afterwards is dealt with by ``run_app`` once the terminal is back.
        """
        state = self._app.state

        def waiting(count: int) -> None:
            state.set_error(f"Stopping: waiting for {count} transfer(s) to let go…")

        await handle.wait_for_transfers(limit, on_wait=waiting)
