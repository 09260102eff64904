"""The inventory grid itself: one changed partition repaints one row, cursor keys and clicks, a
year of days scrolls under a sticky header, wide requests scroll sideways, cells read without colour.

Over the stub source (no demo lake); the screen is read through public API only
(``App.export_screenshot`` via ``screen_text``, ``Widget.render_lines``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from test_tui_support import SNAPSHOT_REQUEST, screen_text, stub_app, wait_for
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip

from rlx_tui.events import (
    PartitionStarted,
    PartitionState,
    PlannedPartition,
    PlanReady,
    Validated,
)
from rlx_tui.kinds import Zone
from rlx_tui.partitions import Request
from rlx_tui.tui.app import RlxApp
from rlx_tui.tui.grid import HEADER_HEIGHT, InventoryGrid
from rlx_tui.tui.inventory import InventoryPanel

YEAR = Request(
    tables=("trades", "book", "book_delta_v2"),
    exchanges=("BINANCE",),
    symbols=("BTC-USDT",),
    start=dt.date(2024, 1, 1),
    end=dt.date(2024, 12, 30),  # 365 days (2024 is a leap year)
)
WIDE = Request(
    tables=("trades", "book", "book_delta_v2"),
    exchanges=("BINANCE", "OKX"),
    symbols=("BTC-USDT", "ETH-USDT"),
    start=dt.date(2024, 1, 1),
    end=dt.date(2024, 1, 3),
)


async def planned(pilot: Pilot[Any], request: Request = SNAPSHOT_REQUEST) -> tuple[RlxApp, InventoryGrid]:
    """The dashboard showing ``request``'s plan, every partition queued with ~1.0K expected."""
    app: RlxApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.discovery is not None)
    app.preview(request)
    await pilot.pause()
    keys = request.partitions()
    items = tuple(PlannedPartition(k, PartitionState.QUEUED, 1000) for k in keys)
    app.state.apply(PlanReady(1.0, items, len(keys), 0, 0, len(keys) * 1000, 1.0, True))
    app.refresh_now()
    await pilot.pause()
    return app, app.dashboard.query_one(InventoryGrid)


def grid_lines(grid: InventoryGrid) -> list[str]:
    """The grid's visible lines as text, rendered through the public ``Widget.render_lines``."""
    width, height = grid.size
    return [strip.text for strip in grid.render_lines(Region(0, 0, width, height))]


async def test_one_changed_partition_repaints_only_its_row(monkeypatch: pytest.MonkeyPatch) -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, grid = await planned(pilot)
        painted: Counter[int] = Counter()
        render_line = grid.render_line

        def counting(y: int) -> Strip:
            painted[y] += 1
            return render_line(y)

        monkeypatch.setattr(grid, "render_line", counting)
        grid.rows_rendered.clear()
        grid.cells_rendered.clear()
        keys = SNAPSHOT_REQUEST.partitions()  # day-major: keys[4:8] are 2024-01-02
        app.state.apply(PartitionStarted(2.0, keys[5], 1, 1))  # trades ETH-USDT 2024-01-02
        app.refresh_now()
        await pilot.pause()
        second_day = HEADER_HEIGHT + 1
        assert set(painted) == {second_day}, painted  # one line of the widget repainted, no other
        assert grid.rows_rendered == Counter()  # no row rendered whole again (all are cached)
        assert grid.cells_rendered == Counter({(1, 1): 1})  # only the changed cell was
        lines = grid_lines(grid)
        assert lines[second_day].split() == [
            "2024-01-02",
            "○",
            "~1.0K",
            "↓",
            "~1.0K",
            "○",
            "~1.0K",
            "○",
            "~1.0K",
        ]
        assert "↓" not in lines[second_day - 1] + lines[second_day + 1]


async def test_keys_move_the_cursor_and_enter_asks_for_that_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, grid = await planned(pilot)
        chosen: list[str] = []
        monkeypatch.setattr(app, "drill_down", chosen.append)  # what PartitionChosen leads to
        panel = app.dashboard.query_one(InventoryPanel)
        assert app.focused is grid and grid.cursor == (0, 0)
        await pilot.press("down", "down", "right", "enter")
        await pilot.pause()
        assert grid.cursor == (2, 1)
        assert chosen == ["trades/BINANCE/ETH-USDT/2024-01-03"]
        assert panel.highlighted_key() is not None
        assert panel.highlighted_key().id == "trades/BINANCE/ETH-USDT/2024-01-03"  # type: ignore[union-attr]
        assert "trades/BINANCE/ETH-USDT/2024-01-03 · queued" in screen_text(app)  # the detail line follows
        await pilot.press("end", "ctrl+end")  # last stream, last day
        assert grid.cursor == (4, 3)
        await pilot.press("home", "ctrl+home", "up", "left")  # clamped at the edges
        assert grid.cursor == (0, 0)
        await pilot.press("pagedown")
        assert grid.cursor == (4, 0)
        await pilot.press("enter")
        await pilot.pause()
        assert chosen[-1] == "trades/BINANCE/BTC-USDT/2024-01-05"


async def test_a_click_highlights_a_cell_and_a_second_click_chooses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, grid = await planned(pilot)
        chosen: list[str] = []
        monkeypatch.setattr(app, "drill_down", chosen.append)
        label_width = len(" 2024-01-01 ")
        cell = (label_width + 3 * 10 + 2, HEADER_HEIGHT + 4)  # book ETH-USDT, 2024-01-05 (cells are 10 wide)
        await pilot.click(grid, offset=cell)
        await pilot.pause()
        assert grid.cursor == (4, 3) and chosen == []
        await pilot.click(grid, offset=cell)
        await pilot.pause()
        assert chosen == ["book/BINANCE/ETH-USDT/2024-01-05"]
        await pilot.click(grid, offset=(label_width + 2, 0))  # the header: nothing happens
        await pilot.pause()
        assert grid.cursor == (4, 3) and len(chosen) == 1


async def test_a_year_of_three_streams_scrolls_under_a_sticky_header() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, grid = await planned(pilot, YEAR)
        assert grid.row_count == 365 and grid.column_count == 3
        lines = grid_lines(grid)
        assert lines[0].split() == ["trades", "book", "delta_v2"]
        assert lines[1].split() == ["BTC-USDT"] * 3
        assert lines[HEADER_HEIGHT].split() == ["2024-01-01", "○", "~1.0K", "○", "~1.0K", "○", "~1.0K"]
        assert len(grid.rows_rendered) <= grid.size.height  # only what is on screen was rendered
        await pilot.press("ctrl+end")
        await pilot.pause()
        lines = grid_lines(grid)
        assert grid.scroll_offset.y > 0
        assert lines[0].split() == ["trades", "book", "delta_v2"]  # the header stays at the top
        assert any(line.startswith(" 2024-12-30 ") for line in lines)
        assert not any("2024-01-01" in line for line in lines)
        assert "2024-12-30" in screen_text(app)
        top = grid.scroll_offset.y
        await pilot.press("pageup")
        await pilot.pause()
        assert grid.scroll_offset.y == top - grid.page_rows
        assert grid.cursor == (364 - grid.page_rows, 0)  # ctrl+end keeps the column
        assert len(grid.rows_rendered) < 365 // 2  # rows far off screen were never rendered


async def test_streams_that_do_not_fit_scroll_sideways_with_the_days_kept() -> None:
    app = stub_app()
    async with app.run_test(size=(80, 24)) as pilot:
        _, grid = await planned(pilot, WIDE)
        assert grid.column_count == 12 and grid.virtual_size.width > grid.size.width
        assert "trades" in grid_lines(grid)[0] and "delta_v2" not in grid_lines(grid)[0]
        await pilot.press("end")
        await pilot.pause()
        lines = grid_lines(grid)
        assert grid.scroll_offset.x > 0 and grid.cursor == (0, 11)
        assert lines[0].rstrip().endswith("delta_v2") and lines[1].rstrip().endswith("OKX:ETH-USDT")
        assert lines[HEADER_HEIGHT].startswith(" 2024-01-01 ")  # the day labels do not scroll away
        assert "trades" not in lines[0]


async def test_a_cell_reads_as_glyph_and_size_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = stub_app()
    async with app.run_test(size=(80, 24)) as pilot:
        _, grid = await planned(pilot)
        keys = SNAPSHOT_REQUEST.partitions()
        app.state.apply(Validated(2.0, keys[0], Zone.READY, (), None, 5_000, 10))
        app.state.apply(Validated(2.1, keys[1], Zone.QUARANTINE, (), "bad rows", 4_000, 9))
        app.refresh_now()
        await pilot.pause()
        first_day = grid_lines(grid)[HEADER_HEIGHT]
        assert first_day.split() == ["2024-01-01", "✓", "5.0K", "✗", "4.0K", "○", "~1.0K", "○", "~1.0K"]
        # The cursor needs no colour either: its cell is drawn in reverse video.
        strip = grid.render_lines(Region(0, HEADER_HEIGHT, grid.size.width, 1))[0]
        reversed_text = "".join(text for text, style, _ in strip if style is not None and style.reverse)
        assert reversed_text.strip() == "✓ 5.0K"
