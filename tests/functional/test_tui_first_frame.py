"""Left out of the first frame, there right after it: the pickers; the dashboard, when first shown."""

from __future__ import annotations

from pathlib import Path

from test_tui_app import SIZE, make_app
from test_tui_support import screen_text, wait_for

from rlx_tui.logs import logger
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.tui.pickers import Picker


async def test_pickers_arrive_after_the_first_frame_and_work(
    clean_demo_lake: DemoLake, tmp_path: Path
) -> None:
    app = make_app(clean_demo_lake, tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.selection_screen
        await wait_for(pilot, lambda: app.discovery is not None)
        await pilot.pause()
        pickers = {p.id: p for p in screen.query(Picker)}
        assert list(pickers) == ["tables", "symbols", "exchanges"]  # in their place, in order
        assert not screen.query_one("#pickers").loading
        symbols = pickers["symbols"]
        assert symbols.values and symbols.selected() == ("BTC-USDT",)
        await pilot.press("tab", "tab", "tab", "down")  # end date, tables, the symbols' filter, its list
        assert app.focused is symbols.option_list
        await pilot.press("down", "space")  # the list starts on BTC-USDT (ticked): tick the next one
        await pilot.pause()
        assert len(symbols.selected()) == 2
        assert screen.request is not None and screen.request.symbols == symbols.selected()
        text = screen_text(app)
        assert "Symbols 2/" in text and "[x] BTC-USDT" in text


async def test_dashboard_built_once_when_first_shown(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    app = make_app(clean_demo_lake, tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.discovery is not None)
        assert not app.dashboard_ready and app.redraws == 0 and app.certificate is None
        assert "dashboard" not in {s.id for s in app.screen_stack}
        logger.warning("a line logged before the dashboard exists")
        await pilot.pause()
        request = app.selection_screen.request
        assert request is not None
        app.preview(request)
        await wait_for(pilot, lambda: app.dashboard_ready)
        dashboard = app.dashboard
        assert app.screen is dashboard
        await pilot.press("n")  # back to the selection screen, then to the dashboard again
        await wait_for(pilot, lambda: app.screen is app.selection_screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dashboard)
        assert app.dashboard is dashboard  # one dashboard, built once
        await wait_for(pilot, lambda: "a line logged before the dashboard exists" in screen_text(app), 10)
