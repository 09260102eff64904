"""Each part of the dashboard does its own job, with no helper behind the app: what a user sees of it.

The dashboard screen redraws itself from the shared state on its own timer (no one calls it),
log lines reach its log panel, and the verify dialog verifies and says why it could not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_tui_support import SNAPSHOT_REQUEST, screen_text, stub_app, wait_for

from rlx_tui.events import PartitionStarted, PartitionState, PlannedPartition, PlanReady
from rlx_tui.logs import logger
from rlx_tui.tui.app import RlxApp
from rlx_tui.tui.screens import TextScreen
from rlx_tui.tui.verify import VerifyScreen


def first_day_cells(app: RlxApp) -> str:
    """The inventory's first row as shown ("" while it is not drawn)."""
    return next((line for line in screen_text(app).splitlines() if "  2024-01-01  " in line), "")


async def test_the_dashboard_redraws_itself_from_the_state() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.discovery is not None)
        app.preview(SNAPSHOT_REQUEST)
        keys = SNAPSHOT_REQUEST.partitions()
        items = tuple(PlannedPartition(k, PartitionState.QUEUED, 1000) for k in keys)
        app.state.apply(PlanReady(1.0, items, 20, 0, 0, 0, 1.0, True))
        # nobody asks for a redraw: the screen's own tick draws what the state holds
        await wait_for(pilot, lambda: "○ ~1.0K" in first_day_cells(app), timeout=10)
        assert "↓" not in first_day_cells(app)
        app.state.apply(PartitionStarted(2.0, keys[0], 1, 1))
        await wait_for(pilot, lambda: "↓ ~1.0K" in first_day_cells(app), timeout=10)


async def test_log_lines_reach_the_log_panel() -> None:
    app = stub_app()
    app = RlxApp(workspace=app.workspace, options=dataclasses.replace(app.options, capture_logs=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.discovery is not None)
        app.preview(SNAPSHOT_REQUEST)
        await pilot.pause()
        logger.info("a line for the log panel")
        await wait_for(pilot, lambda: "a line for the log panel" in screen_text(app), timeout=10)


async def test_the_verify_dialog_says_why_it_could_not_verify(tmp_path: Path) -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.discovery is not None)
        app.preview(SNAPSHOT_REQUEST)
        await pilot.pause()
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen))
        missing = tmp_path / "cert-0001.json"
        await pilot.press(*str(missing), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), timeout=10)
        text = screen_text(app)
        assert "Verification failed" in text and "not found" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TextScreen | VerifyScreen)
