"""The dashboard attached to a real detached run (a host process on the slowed clean demo lake).

What a user checks: the dashboard opened on a data directory with a live run shows
that run (the counts its journal has) within 2 s; p pauses and resumes the run
itself (the host says so on its socket); q -> detach leaves the run going; a
second dashboard attached at the same time shows the same counts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import psutil
import pytest
from test_tui_support import demo_settings, screen_text, wait_for

from rlx_tui.events import PartitionState
from rlx_tui.partitions import Request
from rlx_tui.runs.client import CommandFailed, RunClient
from rlx_tui.runs.launcher import RunInfo, start_detached
from rlx_tui.runs.liveness import find_live_run
from rlx_tui.runs.summary import replay
from rlx_tui.settings import Settings
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore
from rlx_tui.tui.app import AppOptions, RlxApp
from rlx_tui.tui.screens import DetachScreen, TextScreen

DAYS = 10
REQUEST = Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, DAYS))
SIZE = (120, 40)


def settings_for(lake: DemoLake, data_dir: Path) -> Settings:
    return demo_settings(lake, data_dir, demo_profile="clean", workers=1)


def make_app(settings: Settings) -> RlxApp:
    options = AppOptions(cursor_blink=False, discover_extra_tables=False, estimate_delay=0.05)
    return RlxApp(settings, options=options)


def journal_ready(info: RunInfo) -> int:
    """How many partitions the run's journal says are ready (what `rlx-tui status` reports)."""
    return replay(info.paths.data_dir, info.paths.journal)[0].ready


def shown_ready(app: RlxApp) -> int:
    return app.state.counts().get(PartitionState.READY, 0)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def host_state(info: RunInfo) -> str:
    return (await RunClient(info.paths, expected_pid=info.pid).status()).state


async def until(what: str, check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.1)


@pytest.fixture
async def running(clean_demo_lake: DemoLake, data_dir: Path) -> AsyncIterator[RunInfo]:
    """A detached run of REQUEST, one slow worker (0.5 s a GET); aborted if the test leaves it running."""
    clean_demo_lake.set_faults(slow_seconds=0.5)
    settings = settings_for(clean_demo_lake, data_dir)
    info = await anyio.to_thread.run_sync(lambda: start_detached(settings, REQUEST, tick_every=1.0))
    try:
        yield info
    finally:
        clean_demo_lake.set_faults(slow_seconds=0.0)
        if not _gone(info.pid):
            os.kill(info.pid, signal.SIGINT)  # the host aborts on SIGINT
            deadline = time.monotonic() + 30
            while not _gone(info.pid) and time.monotonic() < deadline:
                await anyio.sleep(0.1)


async def pause_host(info: RunInfo) -> None:
    client = RunClient(info.paths, expected_pid=info.pid)

    async def paused() -> bool:
        try:
            await client.pause()
        except CommandFailed:  # still starting
            return False
        return True

    await until("the host to accept pause", paused)


async def test_dashboard_attaches_steers_and_detaches(
    running: RunInfo, clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    await until("two partitions ready", lambda: anyio.to_thread.run_sync(lambda: journal_ready(running) >= 2))
    await pause_host(running)  # fixed counts while two dashboards compare them with the journal
    await until("the host to pause", lambda: _is(host_state(running), "paused"))
    # a pause starts nothing new, but the partitions already in flight still land: wait for them, or
    # one filed after the journal is read below leaves ready/ a partition ahead of `expected`
    await until("the partitions in flight", lambda: _no_workers(running))
    app = make_app(settings_for(clean_demo_lake, data_dir))
    second = make_app(settings_for(clean_demo_lake, data_dir))
    try:
        async with app.run_test(size=SIZE) as pilot:
            opened = time.monotonic()
            # 2 s on a machine with a core to spare; loaded (other suites share the cores) the bound
            # only catches a dashboard that hangs
            limit = 2.0 if os.getloadavg()[0] < (os.cpu_count() or 1) else 15.0
            await wait_for(pilot, lambda: app.runs.attached and app.state.phase == "paused", timeout=limit)
            expected = await anyio.to_thread.run_sync(journal_ready, running)
            await wait_for(pilot, lambda: shown_ready(app) == expected, timeout=limit)
            assert time.monotonic() - opened < limit
            assert app.state.total == DAYS
            heading = f"attached to run {running.number} (pid {running.pid})"

            def dashboard_shows_run() -> bool:
                app.refresh_now()
                text = screen_text(app)
                return f"{expected}/{DAYS}" in text and "paused (p resumes)" in text and heading in text

            await wait_for(pilot, dashboard_shows_run, timeout=5)  # drawn on the next frames
            zone_ready = re.compile(rf"│ ready\s+{expected}\s")  # the zones panel, from ready/ on disk

            def zones_show_ready() -> bool:
                app.refresh_now()
                return bool(zone_ready.search(screen_text(app)))

            await wait_for(pilot, zones_show_ready, timeout=10)
            # p resumes the run itself, p again pauses it: the host's own status says so
            await pilot.press("p")
            await until("the host to run", lambda: _is(host_state(running), "running"))
            await wait_for(pilot, lambda: app.state.phase == "running", timeout=10)
            await pilot.press("p")
            await until("the host to pause again", lambda: _is(host_state(running), "paused"))
            await wait_for(pilot, lambda: app.state.phase == "paused", timeout=10)
            await until("the partitions in flight", lambda: _no_workers(running))
            # q asks; d detaches: the dashboard ends, the run goes on
            await wait_for(pilot, lambda: app.discovery is not None, timeout=30)
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, DetachScreen), timeout=5)
            await pilot.press("d")
            await wait_for(pilot, lambda: not app.is_running, timeout=5)
        assert app.return_code == 0
        assert not _gone(running.pid)
        live = await find_live_run(data_dir)
        assert live is not None and live.paths == running.paths
        assert await host_state(running) == "paused"
        # a second dashboard (attached after the first detached: two apps in one process are not
        # Textual's case; the pty test runs real processes) sees the same counts
        async with second.run_test(size=SIZE) as second_pilot:
            await wait_for(second_pilot, lambda: second.runs.attached, timeout=10)
            expected = await anyio.to_thread.run_sync(journal_ready, running)
            await wait_for(second_pilot, lambda: shown_ready(second) == expected, timeout=5)
            assert shown_ready(app) == expected  # what the first one showed when it left
            assert second.state.counts() == app.state.counts()
            # (left once its source is listed: a dashboard leaving mid-listing is another test's case)
            await wait_for(second_pilot, lambda: second.discovery is not None, timeout=30)
    finally:
        app.close_workspace()
        second.close_workspace()


async def _is(state: object, wanted: str) -> bool:
    return await state == wanted  # type: ignore[misc]


async def _no_workers(info: RunInfo) -> bool:
    return not (await RunClient(info.paths, expected_pid=info.pid).status()).progress.workers


async def test_without_a_live_run_the_dashboard_says_how_the_last_one_ended(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    settings = settings_for(clean_demo_lake, data_dir)
    short = Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    info = await anyio.to_thread.run_sync(lambda: start_detached(settings, short, tick_every=1.0))
    deadline = time.monotonic() + 60
    while await find_live_run(data_dir) is not None or not _gone(info.pid):
        assert time.monotonic() < deadline, "the short run did not end"
        await anyio.sleep(0.2)
    app = make_app(settings)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: any("last run" in line for line in app.dashboard.pending_logs), 10)
            line = next(line for line in app.dashboard.pending_logs if "last run" in line)
            assert line.endswith("last run: run 1 finished at " + line.split(" at ")[-1])
            assert line.endswith(", 2 of 2 ready")  # the line the log panel shows
            assert not app.runs.attached and app.state.phase == "idle"  # the selection screen, as before
            await wait_for(pilot, lambda: app.discovery is not None, timeout=30)  # left once listed
    finally:
        app.close_workspace()


# -- ctrl+s in the dashboard: the run gets a process of its own, the dashboard attaches to it -----------
async def test_ctrl_s_starts_the_run_detached_then_certify_works_once_it_ended(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    data_dir.mkdir()
    short = Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, 4))
    remembered = {"request": short.to_dict(), "finished": False}
    (data_dir / "tui-last-request.json").write_text(json.dumps(remembered))  # what ctrl+s starts
    app = make_app(settings_for(clean_demo_lake, data_dir))  # the default: detached
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.discovery is not None and app.workspace is not None, 60)
            await wait_for(pilot, lambda: app.selection_screen.request == short, 10)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.runs.attached, timeout=90)
            run = app.runs.attachment.run
            assert run is not None and run.pid != os.getpid()  # not this process: its own
            assert os.getsid(run.pid) != os.getsid(0)  # and its own session (a hang-up does not reach it)
            assert app.runs.handle is None  # nothing runs in the dashboard's process
            assert f"attached to run {run.number} (pid {run.pid})" in app.sub_title
            await wait_for(pilot, lambda: app.state.phase == "finished", timeout=90)
            assert shown_ready(app) == 4 and app.state.total == 4
            await wait_for(pilot, lambda: not app.runs.attached and _gone(run.pid), timeout=30)  # it ended
            assert app.check_action("certify", ()) is True  # enabled: every partition is ready
            await pilot.press("c")
            await wait_for(pilot, lambda: app.certificate is not None, timeout=60)
            assert app.certificate.json_path.exists()
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), timeout=10)  # the report
            await pilot.pause(0.2)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TextScreen), timeout=10)
    finally:
        app.close_workspace()


async def test_a_run_that_cannot_start_says_why_in_one_line(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    """The host refuses (the data directory is busy): one line on the dashboard, never a traceback."""
    data_dir.mkdir()
    app = make_app(settings_for(clean_demo_lake, data_dir))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.discovery is not None and app.workspace is not None, 60)
            with StagingStore(data_dir).lock():  # another process of ours would hold it so
                assert app.start_run(REQUEST)
                await wait_for(pilot, lambda: (app.state.error or "").startswith("The run did not start"), 90)
            error = app.state.error or ""
            assert "run 1 could not start" in error and "\n" not in error
            assert app.state.phase == "idle" and not app.runs.attached
            app.refresh_now()
            text = screen_text(app)
            assert "The run did not start" in text and "Traceback" not in text
            assert app.check_action("start", ()) is True  # s tries again
    finally:
        app.close_workspace()
