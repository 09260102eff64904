"""The dashboard attached to a detached run: its journal replayed, its live events followed, keys sent on.

At launch the run control asks :mod:`rlx_tui.service.runs` for the data directory's
live run (:meth:`Attachment.look_for_run`); a run just started by ``ctrl+s`` is
handed over the same way. Either posts :class:`~.run_messages.LiveRunFound`; the app
shows the dashboard and, once that screen is mounted, calls :meth:`Attachment.begin`.
Then the journal so far is read and folded into a fresh :class:`~.state.DashboardState`
in a thread (the event loop only takes the result over), and an async worker
subscribes to the run's socket from the next line (:meth:`RunClient.subscribe`) and
folds the live events as an in-process run's are folded. ``p``, ``x`` and ``r`` go
to the run's socket. Leaving (``q``, or the terminal going away) detaches: the run
goes on; only "stop the run" in the quit dialog stops it.

If there is no live run, the newest run's outcome (or its death) is one log line
and a notification.

Nothing here writes the app's fields: it folds into the state it is given and asks
the app for the rest with the messages of :mod:`.run_messages`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from textual.app import App

from rlx_tui.events import Event, RunFinished
from rlx_tui.logs import logger
from rlx_tui.service.runs import (
    Answer,
    CommandFailed,
    LiveRun,
    RunClient,
    RunError,
    RunGone,
    find_live,
    host_line,
    last_run,
    not_live_line,
    read_entries,
    run_view,
)
from rlx_tui.settings import Settings
from rlx_tui.tui.messages import Task, guarded
from rlx_tui.tui.run_messages import LiveRunFound, RunShown, StoreChanged
from rlx_tui.tui.screens import DetachScreen
from rlx_tui.tui.state import DashboardState

Command = Callable[[RunClient], Awaitable[Answer]]


@dataclass
class Replayed:
    """A run's journal so far, folded (in a thread) into a state of its own."""

    state: DashboardState
    last_seq: int
    host_lines: list[str] = field(default_factory=list)
    error: str | None = None  # an ended run's error, from its host's last mark


def replay_journal(run: LiveRun) -> Replayed:
    """Decode ``run``'s journal and fold it into a new state (blocking: runs in a thread)."""
    read = read_entries(run)
    state = DashboardState()
    if run.request is not None:
        state.begin(run.request)
    else:
        state.reset(None)
        state.phase = "starting"
    replayed = Replayed(state, read.last_seq)
    for entry in read.entries:
        if entry.event is not None:
            state.apply(entry.event)
        elif entry.host is not None and entry.host.state != "opened":
            replayed.host_lines.append(host_line(entry.host.state, entry.host.details))
            if entry.ended and entry.host.details.get("error"):
                replayed.error = f"run {run.number} ended: {entry.host.details['error']}"
    return replayed


class Attachment:
    """The live detached run the dashboard shows (if any); ``fold`` takes each of its live events."""

    def __init__(
        self,
        node: App[Any],
        state: DashboardState,
        settings: Settings,
        fold: Callable[[Event], None],
        finished: Callable[[RunFinished], None],
    ) -> None:
        self._node = node  # runs the workers, takes the messages and notifications
        self._state = state
        self._settings = settings
        self._fold = fold
        self._finished = finished
        self.run: LiveRun | None = None  # while attached

    @property
    def live(self) -> bool:
        return self.run is not None

    def heading(self, run: LiveRun) -> str:
        return f"attached to run {run.number} (pid {run.pid}) · {self._settings.data_dir}"

    # -- attaching -------------------------------------------------------------------------
    def look_for_run(self, then: Callable[[], None] | None = None) -> None:
        """Attach to the data directory's live run, or say how the last one ended (async worker).

        ``then()`` is called on the event loop once the look is over, whatever it found.
        """
        guarded(self._node, Task.ATTACH, self._look(then))

    async def _look(self, then: Callable[[], None] | None) -> None:
        data_dir = self._settings.data_dir
        try:
            run = await find_live(data_dir)
            last = None if run is not None else await last_run(data_dir)
            line = None if last is None else await anyio.to_thread.run_sync(not_live_line, last)
        except (OSError, ValueError, RunError) as exc:
            logger.warning("cannot look for a run in the background: {}", exc)
            run, line = None, None
        except Exception:  # unexpected (reported by the worker): the source still opens
            if then is not None:
                then()
            raise
        if run is not None:
            self._node.post_message(LiveRunFound(run))
        elif line:
            logger.info("last run: {}", line)
            self._node.notify(line, title="Last run", timeout=8)
        if then is not None:  # not when cancelled (the dashboard is leaving)
            then()

    def begin(self, run: LiveRun, note: str | None = None) -> None:
        """Show ``run`` (the dashboard that shows it is mounted): replay its journal, then follow it."""
        self.run = run
        state = self._state
        if run.request is not None:
            state.begin(run.request)
        else:
            state.reset(None)
            state.phase = "starting"
        state.set_error(None)
        self._node.post_message(RunShown(run.request, self.heading(run)))
        logger.info("attached to run {} (pid {}): q detaches, the run goes on", run.number, run.pid)
        if note:
            self._node.notify(note, title=f"run {run.number}", timeout=6)
        guarded(self._node, Task.ATTACH, self._follow(run))

    async def _follow(self, run: LiveRun) -> None:
        state = self._state
        gone: str | None = None
        try:
            try:
                replayed = await anyio.to_thread.run_sync(replay_journal, run)
            except (OSError, ValueError) as exc:  # an unreadable journal: everything comes from the socket
                logger.warning("run {}: its journal cannot be read ({}): following it live", run.number, exc)
                replayed = None
            if replayed is not None:
                self._take_over(run, replayed)
                gone = replayed.error
            from_seq = 1 if replayed is None else replayed.last_seq + 1
            async with run.client.subscribe(from_seq=from_seq) as entries:
                async for entry in entries:
                    if entry.event is not None:
                        self._fold(entry.event)
                    elif entry.host is not None and entry.host.state != "opened":
                        logger.info("run {}: {}", run.number, host_line(entry.host.state, entry.host.details))
                        if entry.ended and entry.host.details.get("error"):
                            gone = f"run {run.number} ended: {entry.host.details['error']}"
        except RunGone as exc:
            gone = await self._what_became_of(run, exc)
        finally:
            self.run = None
            self._node.post_message(RunShown(None, None))
        if state.run_active:  # it ended, or died, without its final event
            state.phase = "failed"
        if gone:
            state.set_error(gone)
        self._node.post_message(StoreChanged())
        self._node.refresh_bindings()

    def _take_over(self, run: LiveRun, replayed: Replayed) -> None:
        """Show what the journal said so far (the fold was done in a thread)."""
        self._state.adopt(replayed.state)
        for line in replayed.host_lines:
            logger.info("run {}: {}", run.number, line)
        if run.request is None and replayed.state.request is not None:  # from the plan
            self._node.post_message(RunShown(replayed.state.request, self.heading(run)))
        self._node.post_message(StoreChanged())
        if replayed.state.finished is not None:
            self._finished(replayed.state.finished)

    async def _what_became_of(self, run: LiveRun, exc: RunGone) -> str:
        logger.warning("{}", exc)
        try:
            view = await run_view(run)
            if view.status is not None:
                return f"run {run.number} still runs but its event stream broke: attach again"
            return await anyio.to_thread.run_sync(not_live_line, view)
        except (OSError, ValueError, RunError):
            return str(exc)

    # -- steering (each command in an async worker) ------------------------------------------
    def toggle_pause(self) -> None:
        if self._state.phase == "paused":
            self._send("resume", lambda client: client.resume())
        else:
            self._send("pause", lambda client: client.pause())

    def stop(self) -> None:
        self._send("stop", lambda client: client.stop(abort=False))

    def retry(self) -> None:
        self._send("retry", lambda client: client.retry())

    def _send(self, what: str, command: Command, then: Callable[[], None] | None = None) -> None:
        run = self.run
        if run is None:  # it ended meanwhile: nothing to send
            if then is not None:
                then()
            return
        guarded(self._node, Task.COMMAND, self._command(run, what, command, then))

    async def _command(
        self, run: LiveRun, what: str, command: Command, then: Callable[[], None] | None
    ) -> None:
        try:
            answer = await command(run.client)
        except CommandFailed as exc:
            self._node.notify(str(exc), title=f"{what} refused", severity="warning")
        except RunGone as exc:
            self._node.notify(str(exc), title=f"{what} failed", severity="error")
        else:
            logger.info("run {}: {}", run.number, answer.message)
            self._node.notify(answer.message, title=f"run {run.number}", timeout=4)
        if then is not None:
            then()

    # -- leaving -----------------------------------------------------------------------------
    def ask_to_leave(self, leave: Callable[[], None]) -> None:
        """``q``: detach (the run goes on), stop the run and leave, or stay; ``leave()`` exits."""
        run = self.run
        assert run is not None

        def answered(choice: str | None) -> None:
            if choice == "detach":
                logger.info("detached from run {}: it goes on (rlx-tui attach)", run.number)
                leave()
            elif choice == "stop":
                self._send("stop", lambda client: client.stop(abort=False), then=leave)

        self._node.push_screen(DetachScreen(run.number), answered)
