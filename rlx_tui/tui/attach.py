"""The dashboard attached to a detached run: its journal replayed, its live events followed, keys sent on.

At start the app asks :mod:`rlx_tui.service.runs` for the data directory's live run.
If there is one, the dashboard shows it: an async worker subscribes to the run's
socket from the journal's first line (:meth:`RunClient.subscribe`), so the replay
and the live events arrive as one stream and are folded into the same
:class:`~.state.DashboardState` an in-process run feeds; nothing here blocks the
event loop (the socket is read by anyio, files in threads). ``p``, ``x`` and ``r``
go to the run's socket. Leaving (``q``, or the terminal going away) detaches: the
run goes on; only "stop the run" in the quit dialog stops it.

If there is no live run, the newest run's outcome (or its death) is one log line
and a notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from rlx_tui.events import Event
from rlx_tui.logs import logger
from rlx_tui.runs.commands import host_line, not_live_line
from rlx_tui.service.runs import (
    Answer,
    CommandFailed,
    LiveRun,
    RunClient,
    RunError,
    RunGone,
    find_live,
    last_run,
    run_view,
)
from rlx_tui.tui.messages import Task, guarded
from rlx_tui.tui.screens import DetachScreen

if TYPE_CHECKING:
    from rlx_tui.tui.app import RlxApp

Command = Callable[[RunClient], Awaitable[Answer]]


class Attachment:
    """The live detached run the dashboard shows (if any); ``fold`` takes each of its events."""

    def __init__(self, app: RlxApp, fold: Callable[[Event], None]) -> None:
        self._app = app
        self._fold = fold
        self.run: LiveRun | None = None  # while attached

    @property
    def live(self) -> bool:
        return self.run is not None

    # -- attaching -------------------------------------------------------------------------
    def look_for_run(self) -> None:
        """Attach to the data directory's live run, or say how the last one ended (async worker)."""
        guarded(self._app, Task.ATTACH, self._look())

    async def _look(self) -> None:
        data_dir = self._app.settings.data_dir
        try:
            run = await find_live(data_dir)
            last = None if run is not None else await last_run(data_dir)
            line = None if last is None else await anyio.to_thread.run_sync(not_live_line, last)
        except (OSError, ValueError, RunError) as exc:
            logger.warning("cannot look for a run in the background: {}", exc)
            return
        if run is None:
            if line:
                logger.info("last run: {}", line)
                self._app.notify(line, title="Last run", timeout=8)
            return
        await self._screens_composed()
        self._attach(run)
        await self._follow(run)

    async def _screens_composed(self, timeout: float = 10.0) -> None:
        """Wait until the first screen and its header are composed (a slow machine may still be at it).

        Switching screens or changing the sub-title before then races Textual's own mounting
        (the header's title, the selection screen's pickers are not there yet).
        """
        selection = self._app.selection_screen
        with anyio.move_on_after(timeout):
            while not (
                selection.is_mounted and selection.query("#pickers") and selection.query("HeaderTitle")
            ):
                await anyio.sleep(0.02)
            await anyio.sleep(0.05)  # one more refresh for the mount handlers

    def _attach(self, run: LiveRun) -> None:
        app = self._app
        self.run = run
        app.request = run.request
        if run.request is not None:
            app.state.begin(run.request)
        else:
            app.state.reset(None)
            app.state.phase = "starting"
        app.state.set_error(None)
        app.sub_title = f"attached to run {run.number} (pid {run.pid}) · {app.settings.data_dir}"
        logger.info("attached to run {} (pid {}): q detaches, the run goes on", run.number, run.pid)
        app.show_dashboard()
        app.refresh_bindings()

    async def _follow(self, run: LiveRun) -> None:
        app = self._app
        gone: str | None = None
        try:
            async with run.client.subscribe(from_seq=1) as entries:
                async for entry in entries:
                    if entry.event is not None:
                        self._fold(entry.event)
                        if app.request is None and app.state.request is not None:
                            app.request = app.state.request  # from the plan, when run.json had none
                            app.show_dashboard()
                    elif entry.host is not None and entry.host.state != "opened":
                        logger.info("run {}: {}", run.number, host_line(entry.host.state, entry.host.details))
                        if entry.ended and entry.host.details.get("error"):
                            gone = f"run {run.number} ended: {entry.host.details['error']}"
        except RunGone as exc:
            logger.warning("{}", exc)
            try:
                view = await run_view(run)
                if view.status is not None:
                    gone = f"run {run.number} still runs but its event stream broke: attach again"
                else:
                    gone = await anyio.to_thread.run_sync(not_live_line, view)
            except (OSError, ValueError, RunError):
                gone = str(exc)
        finally:
            self.run = None
            app.sub_title = f"{app.settings.source} source · {app.settings.data_dir}"
        if app.state.run_active:  # it ended, or died, without its final event
            app.state.phase = "failed"
        if gone:
            app.state.set_error(gone)
        app.redrawer.store_changed()
        app.refresh_bindings()

    # -- steering (each command in an async worker) ------------------------------------------
    def toggle_pause(self) -> None:
        if self._app.state.phase == "paused":
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
        guarded(self._app, Task.COMMAND, self._command(run, what, command, then))

    async def _command(
        self, run: LiveRun, what: str, command: Command, then: Callable[[], None] | None
    ) -> None:
        try:
            answer = await command(run.client)
        except CommandFailed as exc:
            self._app.notify(str(exc), title=f"{what} refused", severity="warning")
        except RunGone as exc:
            self._app.notify(str(exc), title=f"{what} failed", severity="error")
        else:
            logger.info("run {}: {}", run.number, answer.message)
            self._app.notify(answer.message, title=f"run {run.number}", timeout=4)
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

        self._app.push_screen(DetachScreen(run.number), answered)
