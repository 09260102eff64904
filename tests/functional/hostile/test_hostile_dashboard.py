"""Class 1 in the dashboard: a crash is one line on exit, never Textual's traceback with variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import demo_settings

from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.tui.app import AppOptions, RlxApp
from tests.functional.hostile.attack import FAKE_SECRET


async def test_a_dashboard_crash_shows_one_line_and_no_variables(
    demo_lake: DemoLake, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    options = AppOptions(
        cursor_blink=False, discover_extra_tables=False, estimate_delay=0.05, foreground=True
    )
    app = RlxApp(demo_settings(demo_lake.endpoint_url, tmp_path / "data"), options=options)

    def crash() -> None:
        secret_access_key = FAKE_SECRET  # what a traceback with variables would print
        raise RuntimeError(f"boom ({len(secret_access_key)})")

    try:
        with pytest.raises(RuntimeError, match="boom"):
            async with app.run_test(size=(100, 30)) as pilot:
                app.call_later(crash)
                await pilot.pause()
                await pilot.pause()
    finally:
        app.close_workspace()
    captured = capfd.readouterr()
    assert app.crash_message == (
        "rlx-tui: unexpected error in the dashboard (RuntimeError); details in data/logs/rlx-tui.log"
    )
    assert "Traceback" not in captured.out + captured.err  # Textual's own report (with variables) is gone
    assert FAKE_SECRET not in captured.out + captured.err
