"""Dashboard behaviour over the stub source (no demo lake): cells, resize, palette, NO_COLOR, confirm."""

from __future__ import annotations

import re

import pytest
from test_tui_support import SNAPSHOT_REQUEST, mid_run_events, screen_text, stub_app, wait_for
from textual.pilot import Pilot

from rlx_tui.events import PartitionStarted, PartitionState, PlannedPartition, PlanReady, Validated
from rlx_tui.kinds import Zone
from rlx_tui.tui.app import RlxApp
from rlx_tui.tui.screens import ConfirmScreen


async def dashboard(pilot: Pilot[int]) -> RlxApp:
    app: RlxApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.discovery is not None)
    app.preview(SNAPSHOT_REQUEST)
    await pilot.pause()
    keys = SNAPSHOT_REQUEST.partitions()
    app.state.apply(
        PlanReady(
            1.0, tuple(PlannedPartition(k, PartitionState.QUEUED, 1000) for k in keys), 20, 0, 0, 0, 1.0, True
        )
    )
    app.refresh_now()
    await pilot.pause()
    return app


def cells(app: RlxApp, day: str) -> list[str]:
    """The inventory cells of one day, as shown (trades BTC, trades ETH, book BTC, book ETH)."""
    line = next(line for line in screen_text(app).splitlines() if f"  {day}  " in line)
    inventory = line.split("││")[0] if "││" in line else line
    return re.split(r"\s{2,}", inventory.strip("│ "))[1:5]


async def test_a_changed_partition_redraws_its_cell() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard(pilot)
        keys = SNAPSHOT_REQUEST.partitions()
        assert cells(app, "2024-01-01") == ["○ ~1.0K"] * 4
        app.state.apply(PartitionStarted(2.0, keys[0], 1, 1))
        app.refresh_now()
        await pilot.pause()
        assert cells(app, "2024-01-01") == ["↓ ~1.0K", "○ ~1.0K", "○ ~1.0K", "○ ~1.0K"]
        app.state.apply(Validated(3.0, keys[0], Zone.READY, (), None, 5_000, 10))
        app.state.apply(Validated(3.5, keys[5], Zone.QUARANTINE, (), "bad rows", 4_000, 9))
        app.refresh_now()
        await pilot.pause()
        assert cells(app, "2024-01-01") == ["✓ 5.0K", "○ ~1.0K", "○ ~1.0K", "○ ~1.0K"]
        assert cells(app, "2024-01-02") == ["○ ~1.0K", "✗ 4.0K", "○ ~1.0K", "○ ~1.0K"]
        assert cells(app, "2024-01-03") == ["○ ~1.0K"] * 4


async def test_resize_to_80x24_keeps_every_panel() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard(pilot)
        for event in mid_run_events():
            app.state.apply(event)
        app.refresh_now()
        await pilot.resize_terminal(80, 24)
        app.refresh_now()
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        text = screen_text(app)
        for needle in ("Partitions", "Throughput", "w1", "2024-01-01", "quarantine", "Certify", "q Quit"):
            assert needle in text, needle


async def test_command_palette_lists_the_actions() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"toggle log")
        await wait_for(pilot, lambda: "Toggle log panel" in screen_text(app), timeout=5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.dashboard.log_panel.display is False


async def test_quit_during_a_run_asks_and_no_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard(pilot)
        monkeypatch.setattr(
            app.runs, "handle", object()
        )  # a run in progress, as far as quitting is concerned
        app.state.phase = "running"
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)


async def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = stub_app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await dashboard(pilot)
        assert cells(app, "2024-01-01") == ["○ ~1.0K"] * 4  # states stay readable: glyphs, not colours
