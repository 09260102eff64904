"""Pilot tests of the dashboard against the session's demo lake: keyboard only, no sleeps."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from test_tui_support import demo_settings, screen_text, wait_for
from textual.pilot import Pilot
from textual.widgets import Button

from rlx_tui.atomic import TMP_PREFIX
from rlx_tui.events import PartitionState
from rlx_tui.partitions import PartitionKey
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import Zone
from rlx_tui.tui.app import AppOptions, RlxApp
from rlx_tui.tui.screens import ConfirmScreen, TextScreen

SIZE = (120, 40)


def make_app(lake: DemoLake, data_dir: Path) -> RlxApp:
    options = AppOptions(
        cursor_blink=False, discover_extra_tables=False, estimate_delay=0.05, foreground=True
    )
    return RlxApp(demo_settings(lake.endpoint_url, data_dir), options=options)


async def replace(pilot: Pilot[int], text: str) -> None:
    """Clear the focused input and type ``text``."""
    await pilot.press("end", "ctrl+u", *text)


async def choose(pilot: Pilot[int], app: RlxApp, start: str | None = None, end: str | None = None) -> None:
    """Keyboard only: a date range, then trades + book, BTC-USDT, BINANCE.

    The tables list preselects the CLI's defaults (all three tables the lake holds):
    book_delta_v2 is unticked.

    Without dates, edit the preselected range (2024-01-08 .. 2024-01-10) as a person would:
    start -> 2024-01-01, end -> 2024-01-03.
    """
    await wait_for(pilot, lambda: app.discovery is not None)
    assert app.focused is not None and app.focused.id == "start-date"
    if start is None:
        await pilot.press("end", "backspace", "1")
    else:
        await replace(pilot, start)
    await pilot.press("tab")
    if end is None:
        await pilot.press("end", "backspace", "backspace", "0", "3")
    else:
        await replace(pilot, end)
    await pilot.press("tab")  # the tables list
    await pilot.press("down", "down", "space")  # untick book_delta_v2 (trades, book stay ticked)
    await pilot.pause()


async def test_keyboard_run_then_certify(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await choose(pilot, app, "2024-01-01", "2024-01-03")  # typed in full
            request = app.selection_screen.request
            assert request is not None
            assert request.tables == ("trades", "book")
            assert request.symbols == ("BTC-USDT",) and request.exchanges == ("BINANCE",)
            assert (request.start, request.end) == (dt.date(2024, 1, 1), dt.date(2024, 1, 3))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.state.phase == "finished", timeout=40)
            app.refresh_now()
            await pilot.pause()
            button = app.dashboard.query_one("#certify", Button)
            assert not button.disabled
            assert app.state.counts() == {PartitionState.READY: 6}
            await pilot.press("c")
            await wait_for(pilot, lambda: app.certificate is not None, timeout=30)
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
            text = screen_text(app)
            assert "SYNTHETIC" in text and "issued" in text
            assert app.certificate.json_path.is_file()
            assert app.certificate.json_path.parent == (tmp_path / "data" / "certificates").resolve()
            await pilot.press("escape")
            # verify the certificate just written, from the keyboard
            await pilot.press("v")
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
            assert "PASS" in screen_text(app)
    finally:
        app.close_workspace()


async def test_certify_disabled_while_quarantined(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    clean_demo_lake.set_faults(corrupt=("trades/BINANCE/BTC-USDT/2024-01-02",))
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await choose(pilot, app)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.state.phase == "finished", timeout=40)
            app.refresh_now()
            await pilot.pause()
            key = PartitionKey.from_id("trades/BINANCE/BTC-USDT/2024-01-02")
            assert app.state.partitions[key].state is PartitionState.QUARANTINED
            assert app.dashboard.query_one("#certify", Button).disabled
            reason = str(app.dashboard.query_one("#certify-reason").render())
            assert "quarantined" in reason and key.id in reason
            await pilot.press("c")  # refused with a notification, nothing written
            await pilot.pause()
            assert app.certificate is None
            # drill-down: the cursor starts on 2024-01-01 / trades BTC-USDT; one row down, Enter
            assert app.focused is not None and app.focused.id == "inventory-table"
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
            details = screen_text(app)
            assert key.id in details and "quarantine" in details and "Sidecar" in details
            await pilot.press("escape")
            assert not (tmp_path / "data" / "certificates").exists() or not any(
                (tmp_path / "data" / "certificates").glob("cert-*.json")
            )
            await wait_for(pilot, lambda: app.state.store_status is not None)
            await wait_for(
                pilot,
                lambda: app.state.store_status.zones[Zone.QUARANTINE].partitions == 1,  # type: ignore[union-attr]
            )
            # the source is repaired: r fetches the quarantined partition again, then certify is enabled
            clean_demo_lake.set_faults(corrupt=())
            await pilot.press("r")
            await wait_for(pilot, lambda: app.state.phase == "finished" and app.state.total == 6, timeout=40)
            app.refresh_now()
            await pilot.pause()
            assert app.state.counts() == {PartitionState.READY: 6}
            assert not app.dashboard.query_one("#certify", Button).disabled
    finally:
        app.close_workspace()


async def test_invalid_dates_are_refused_in_place(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.discovery is not None)
            screen = app.selection_screen
            message = screen.query_one("#date-message")
            start_button = screen.query_one("#start-button", Button)

            # preselected: 2024-01-08 .. 2024-01-10; the start date has the focus
            await pilot.press("tab", "end", "backspace", "backspace", "0", "7")  # end 2024-01-07
            assert "before start date" in str(message.render())
            assert screen.query_one("#end-date").has_class("-invalid")
            assert start_button.disabled and screen.request is None
            await pilot.press("ctrl+s")  # refused: still on the selection screen, no run
            await pilot.pause()
            assert app.screen is screen and app.state.phase == "idle"

            await pilot.press("home", "delete", "3")  # 3024-01-07
            assert "not complete yet" in str(message.render())

            await replace(pilot, "2024-02-30")
            assert "not a date" in str(message.render())

            await replace(pilot, "2024-01-12")  # the demo lake holds 2024-01-01 .. 2024-01-10
            assert "holds nothing after 2024-01-10" in str(message.render())
            assert start_button.disabled

            await pilot.press("down", "down")  # stepping with keys: 2024-01-10
            assert screen.query_one("#end-date").value == "2024-01-10"
            assert "✓" in str(message.render()) and not start_button.disabled

            await pilot.press("shift+tab", "pagedown")  # start one month earlier: 2023-12-08
            assert screen.query_one("#start-date").value == "2023-12-08"
            assert "holds nothing before 2024-01-01" in str(message.render())
            assert screen.query_one("#start-date").has_class("-invalid")
            await pilot.press("pageup")
            assert "✓" in str(message.render()) and screen.request is not None
    finally:
        app.close_workspace()


async def test_quit_mid_run_leaves_nothing_partial_and_resumes(
    clean_demo_lake: DemoLake, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    # 0.5 s per GET: a round of partitions outlasts q + y under load (0.3 s lost the race once)
    clean_demo_lake.set_faults(slow_seconds=0.5)
    app = make_app(clean_demo_lake, data_dir)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await choose(pilot, app)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: bool(app.state.workers), timeout=30)
            await pilot.press("q")
            # the question is read once the dialog is composed (under load, a while after the push)
            asked = lambda: isinstance(app.screen, ConfirmScreen) and "in progress" in screen_text(app)  # noqa: E731
            await wait_for(pilot, asked)
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, timeout=30)
        assert app.return_code == 0
    finally:
        app.close_workspace()
    staging = data_dir / "staging"
    assert not any((staging / "tmp").iterdir()), "attempt directories left behind"
    assert not list(staging.rglob(f"{TMP_PREFIX}*")), "temporary files left behind"
    for zone in ("raw", "validating"):
        # only complete, published partitions may wait here (the next start re-validates them)
        for part in (staging / zone).rglob("part.parquet"):
            sidecar = json.loads((part.parent / "_manifest.json").read_text())
            assert hashlib.sha256(part.read_bytes()).hexdigest() == sidecar["sha256"], part
    ready_before = {p.parent for p in (staging / "ready").rglob("part.parquet")}
    assert len(ready_before) < 6

    clean_demo_lake.set_faults(slow_seconds=0.0)
    again = make_app(clean_demo_lake, data_dir)
    try:
        async with again.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: again.discovery is not None)
            selection = again.selection_screen
            assert selection.request is not None
            assert selection.request.tables == ("trades", "book")
            assert "did not finish" in str(selection.query_one("#resume-note").render())
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: again.state.phase == "finished", timeout=40)
            assert again.state.already_ready >= len(ready_before)
            assert again.state.counts() == {PartitionState.READY: 6}
    finally:
        again.close_workspace()


async def test_refused_credentials_show_a_message_not_a_traceback(
    clean_demo_lake: DemoLake, tmp_path: Path
) -> None:
    clean_demo_lake.set_faults(deny_all=True)
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            line = app.selection_screen.query_one("#source-line")
            await wait_for(pilot, lambda: line.has_class("-error"), timeout=30)
            text = str(line.render())
            assert "Cannot list the source" in text and "credentials" in text
            assert "Traceback" not in screen_text(app)
            # the source comes back: ctrl+r lists it again
            clean_demo_lake.set_faults(deny_all=False)
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: app.discovery is not None, timeout=30)
            assert not line.has_class("-error")
    finally:
        app.close_workspace()


async def test_fatal_run_error_is_a_banner_with_the_next_step(
    clean_demo_lake: DemoLake, tmp_path: Path
) -> None:
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.discovery is not None)
            clean_demo_lake.set_faults(deny_all=True)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.state.phase == "failed", timeout=30)
            app.refresh_now()
            await pilot.pause()
            banner = app.dashboard.query_one("#banner")
            assert banner.display
            text = str(banner.render())
            assert text.startswith("Run stopped:") and "Next: fix the credentials" in text
            assert "Traceback" not in screen_text(app)
    finally:
        app.close_workspace()


async def test_unreachable_source_says_what_to_check(tmp_path: Path, lakeapi_home: Path) -> None:
    settings = demo_settings("http://127.0.0.1:1", tmp_path / "data")  # nothing listens on port 1
    app = RlxApp(
        settings, options=AppOptions(cursor_blink=False, discover_extra_tables=False, foreground=True)
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            line = app.selection_screen.query_one("#source-line")
            await wait_for(pilot, lambda: line.has_class("-error"), timeout=30)
            text = str(line.render())
            assert "Cannot list the source" in text and "check the network" in text and "ctrl+r" in text
            assert app.selection_screen.request is None
            assert app.selection_screen.query_one("#start-button", Button).disabled
    finally:
        app.close_workspace()


async def test_pause_stop_and_resume_with_keys(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    # slow enough that, even on a loaded machine, partitions are still queued between the key presses
    # (the transfer slots no longer wait for validation, issue 13); 0.6 s a partition was not, at a load
    # of 9 with the suite on three workers (all 6 ready before the second pause)
    clean_demo_lake.set_faults(slow_seconds=1.5)
    app = make_app(clean_demo_lake, tmp_path / "data")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await choose(pilot, app)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: bool(app.state.workers), timeout=30)
            await pilot.press("p")
            await wait_for(pilot, lambda: app.state.phase == "paused")
            assert app.engine is not None and app.engine.paused
            await pilot.press("p")
            await wait_for(pilot, lambda: app.state.phase == "running")
            await pilot.press("p")  # paused again, so that some partitions are surely still queued
            await wait_for(pilot, lambda: app.state.phase == "paused")
            await pilot.press("x")  # stop after the partitions in flight
            await wait_for(pilot, lambda: app.state.phase == "stopped", timeout=30)
            assert app.state.counts().get(PartitionState.QUEUED, 0) > 0
            assert "start (s) to resume" in (app.state.certify_blocker() or "")
            clean_demo_lake.set_faults(slow_seconds=0.0)
            await pilot.press("s")
            await wait_for(pilot, lambda: app.state.phase == "finished", timeout=40)
            assert app.state.counts() == {PartitionState.READY: 6}
    finally:
        app.close_workspace()
