"""The run's lifecycle in the dashboard: start (detached, or in this process), steer, fold, leave.

Two ways to run a request, one start path each, both through the service layer:

* **detached** (what ``rlx-tui`` does): :func:`rlx_tui.service.runs.start_detached_run`
  starts the acquisition in a process of its own (the launcher of ``download --detach``),
  in a thread; then the dashboard attaches to it (:mod:`.attach`) like to a run found
  at launch: keys go to its socket, ``q`` asks detach or stop, a lost terminal detaches.
* **foreground** (``rlx-tui --foreground``, and the Pilot tests of dashboard logic): the
  service's :class:`~rlx_tui.service.RunHandle` runs the engine in this process as an
  async worker, a second worker folding its events; the run stops with the dashboard.

The run control holds no app. It is given the state it folds into, the settings and
options, and a node (the app) that runs its workers and takes its messages
(:mod:`.run_messages`) and notifications; an error in its workers arrives at the app
as a :class:`~.messages.TaskFailed`, which hands it back to :meth:`RunControl.failed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectSendStream
from textual.app import App

from rlx_tui.events import Event, PartitionFailed, PlanReady, RecoveryDone, RunFinished, Validated
from rlx_tui.logs import logger
from rlx_tui.partitions import Request
from rlx_tui.service import RunHandle, Workspace, start_run
from rlx_tui.service.runs import LiveRun, RunAlreadyLive, RunStartError, find_live, start_detached_run
from rlx_tui.settings import Settings
from rlx_tui.tui.attach import Attachment
from rlx_tui.tui.errors import run_next_step
from rlx_tui.tui.heap import freeze_heap
from rlx_tui.tui.last_request import last_request_path, write_last_request
from rlx_tui.tui.messages import Task, guarded, in_thread
from rlx_tui.tui.options import AppOptions
from rlx_tui.tui.run_messages import LeaveRequested, LiveRunFound, RunShown, StoreChanged
from rlx_tui.tui.screens import ConfirmScreen
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import human_seconds

WARM_UP_FREEZES = frozenset({2, 6})  # freeze the heap again once both workers are warm
# Events after which the store's zones are worth scanning again.
STORE_CHANGING_EVENTS = PlanReady | Validated | RecoveryDone | PartitionFailed | RunFinished
STARTING_LINE = "Starting the run in its own process (it goes on if this terminal goes away)…"


class RunControl:
    """Starts, steers and follows the dashboard's run; folds its events into ``state``."""

    def __init__(
        self, node: App[Any], state: DashboardState, settings: Settings, options: AppOptions
    ) -> None:
        self._node = node
        self._state = state
        self._settings = settings
        self._options = options
        self.foreground = options.foreground
        self.handle: RunHandle | None = None  # the current (or last) in-process run
        self.request: Request | None = None  # what the current (or last) run fetches
        self.last_result: RunFinished | None = None
        self.events_seen = 0  # instrumentation (benchmark): events folded
        self.freeze_seconds: list[float] = []  # instrumentation (benchmark): each freeze_heap()
        self.quitting = False
        self.starting = False  # a detached run's process is being started
        self._run_done = asyncio.Event()
        self._run_done.set()
        self._validated = 0
        self.attachment = Attachment(node, state, settings, self.fold, self._finished)

    @property
    def attached(self) -> bool:
        """True while the dashboard follows a detached run (its keys go to the run's socket)."""
        return self.attachment.live

    def attach_to_live_run(self, then: Callable[[], None] | None = None) -> None:
        """Show the data directory's live detached run, if there is one (else say how the last ended).

        ``then`` is called once the look is over (found or not).
        """
        self.attachment.look_for_run(then)

    def attach(self, run: LiveRun, note: str | None = None) -> None:
        """Follow ``run`` (the app calls this once the dashboard that shows it is mounted)."""
        self.request = run.request or self.request
        self.attachment.begin(run, note)

    # -- starting and steering --------------------------------------------------------------------
    def start(self, request: Request, workspace: Workspace | None, retry_quarantined: bool = False) -> bool:
        """Start acquiring ``request`` (resumes: ready partitions are skipped). False if refused."""
        node, state = self._node, self._state
        if self.attached:
            if retry_quarantined:
                self.attachment.retry()
                return True
            number = self.attachment.run.number if self.attachment.run else "?"
            node.notify(f"Run {number} is running in the background: x stops it.", severity="warning")
            return False
        if workspace is None:
            node.notify("The source is not open yet.", severity="warning")
            return False
        if state.run_active or self.starting:
            node.notify("A run is already in progress.", severity="warning")
            return False
        self.request = request
        state.begin(request)
        state.set_error(None)
        self._remember(request, finished=False)
        node.post_message(RunShown(request, None))
        if self.foreground:
            self._start_here(request, workspace, retry_quarantined)
        else:
            self._start_detached(request, retry_quarantined)
        node.refresh_bindings()
        return True

    def _start_here(self, request: Request, workspace: Workspace, retry_quarantined: bool) -> None:
        """The foreground mode: the engine runs in this process and stops with the dashboard."""
        self.handle = None  # the last run's engine is garbage now: collected, not frozen
        self.freeze_seconds.append(freeze_heap())
        handle = start_run(workspace, request)
        self.handle = handle
        send, receive = anyio.create_memory_object_stream[Event](1000)
        self._run_done = asyncio.Event()
        guarded(self._node, Task.EVENTS, self._consume(receive))
        guarded(self._node, Task.RUN, self._run(handle, send, retry_quarantined))

    def _start_detached(self, request: Request, retry_quarantined: bool) -> None:
        """The default: the run gets a process of its own, then the dashboard attaches to it."""
        self.starting = True
        self._state.set_error(STARTING_LINE)
        guarded(self._node, Task.RUN, self._launch(request, retry_quarantined))

    async def _launch(self, request: Request, retry_quarantined: bool) -> None:
        note = None
        start = partial(start_detached_run, self._settings, request, retry_quarantined=retry_quarantined)
        try:
            run: LiveRun = await anyio.to_thread.run_sync(start, abandon_on_cancel=True)
        except RunAlreadyLive as exc:  # another terminal started one meanwhile: show that one
            found = await find_live(self._settings.data_dir)
            if found is None:
                self._start_failed(f"{exc}")
                return
            run = found
            note = f"Run {run.number} was already running in this data directory: attached to it."
        except RunStartError as exc:
            self._start_failed(str(exc))
            return
        finally:
            self.starting = False
        logger.info("run {} started in the background (pid {})", run.number, run.pid)
        self._node.post_message(LiveRunFound(run, note))

    def _start_failed(self, text: str) -> None:
        logger.warning("the run did not start: {}", text)
        state = self._state
        state.phase = "idle"
        state.set_error(f"The run did not start: {text}.")
        self._node.refresh_bindings()

    def toggle_pause(self) -> None:
        """Pause a running run, or resume a paused one."""
        if self.attached:
            self.attachment.toggle_pause()
            return
        if self.handle is not None and self._state.run_active:
            self.handle.toggle_pause()

    def stop(self) -> None:
        """Stop after the partitions in flight (the next start resumes)."""
        if self.attached:
            self.attachment.stop()
            return
        if self.handle is not None and self._state.run_active:
            self.handle.stop(abort=False)

    def failed(self, text: str) -> None:
        """The run or its event worker died on an unexpected error (already logged)."""
        self.starting = False
        state = self._state
        state.phase = "failed"
        state.set_error(f"The run stopped on an unexpected error: {text} (details in the log). Press s.")
        self._run_done.set()

    def _remember(self, request: Request, finished: bool) -> None:
        """Keep ``request`` as the last one (in a thread), unless the options say not to."""
        if not self._options.remember:
            return
        write = partial(write_last_request, last_request_path(self._settings.data_dir), request, finished)
        in_thread(self._node, Task.REMEMBER, write, None)

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
        self._state.apply(event)
        if isinstance(event, STORE_CHANGING_EVENTS):
            self._node.post_message(StoreChanged())
        if isinstance(event, Validated):
            self._validated += 1
            if self._validated in WARM_UP_FREEZES and not self.attached:  # no workers here when attached
                # the workers' clients and caches exist now: keep GC off them
                self.freeze_seconds.append(freeze_heap())
        if isinstance(event, RunFinished):
            self._finished(event)

    def _finished(self, event: RunFinished) -> None:
        node, state = self._node, self._state
        self.last_result = event
        if event.fatal:
            step = run_next_step(event.fatal_kind)
            state.set_error(f"Run stopped: {event.fatal}. Next: {step}.")
            node.notify(event.fatal, title="Run stopped", severity="error", timeout=10)
        elif event.stopped:
            node.notify("Stopped. Press s to resume where it left off.", title="Run stopped")
        else:
            blocker = state.certify_blocker()
            message = "Everything is ready: press c to certify." if blocker is None else blocker
            node.notify(message, title=f"Run finished in {human_seconds(event.seconds)}")
        if self.request is not None:
            self._remember(self.request, finished=event.all_ready)
        node.refresh_bindings()

    # -- quitting ----------------------------------------------------------------------------------
    def quit(self) -> None:
        """Exit; while a run is in progress, ask first (yes stops it, see :meth:`shutdown`)."""
        if self.quitting:
            return
        if self.attached:
            self.attachment.ask_to_leave(self._leave)
            return
        if self._state.run_active and self.handle is not None:
            question = (
                "A run is in progress.\n\nStop it and quit? Partitions in flight are discarded "
                "(nothing partial is kept); the next launch resumes where this one stopped."
            )
            self._node.push_screen(
                ConfirmScreen(question, yes="Stop and quit", no="Keep running"), self._quit_answer
            )
            return
        self._leave(0)

    def _quit_answer(self, yes: bool | None) -> None:
        if yes:
            self.shutdown(0)

    def shutdown(self, code: int = 0) -> None:
        """Stop an in-process run (abandoning in-flight partitions, which the engine cleans up), then exit.

        A detached run (attached, or still starting) is only left: it goes on.
        """
        if self.quitting:
            return
        if self.attached or self.handle is None:
            self._leave(code)
            return
        self.quitting = True
        guarded(self._node, Task.SHUTDOWN, self._stop_and_exit(code))

    def _leave(self, code: int = 0) -> None:
        """Leave the dashboard; a detached run goes on."""
        if self.quitting:
            return
        self.quitting = True
        if self.starting:
            logger.info("the run is starting in the background: `rlx-tui attach` shows it")
        self._node.post_message(LeaveRequested(code))

    async def _stop_and_exit(self, code: int) -> None:
        handle = self.handle
        if handle is not None and self._state.run_active:
            self._state.set_error("Stopping: cleaning up partitions in flight…")
            handle.stop(abort=True)
            await self._run_done.wait()
        if handle is not None:
            await self._let_transfers_finish(handle)
        self._node.post_message(LeaveRequested(code))

    async def _let_transfers_finish(self, handle: RunHandle) -> None:
        """Give abandoned fetch threads a moment to notice the cancel and return before the process exits.

        The wait and its limit are the service's (the CLI waits the same way); what
        is still running afterwards is dealt with by ``run_app`` once the terminal is back.
        """
        state = self._state

        def waiting(count: int) -> None:
            state.set_error(f"Stopping: waiting for {count} transfer(s) to let go…")

        await handle.wait_for_transfers(on_wait=waiting)
