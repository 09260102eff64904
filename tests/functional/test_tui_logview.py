"""What the dashboard's redraws leave out: a log write repaints without laying the screen out, the
footer is composed again only when its keys changed. Both were among the event loop's longest pauses
during a run (``bench/tui_lag.py``).

Over the stub source (no demo lake); layouts are counted with the screen's public
``screen_layout_refresh_signal``, the screen read with ``screen_text``, the footer's keys
found by their type name (``FooterKey`` is not exported).
"""

from __future__ import annotations

from typing import Any

from test_tui_support import SNAPSHOT_REQUEST, screen_text, stub_app, wait_for
from textual.app import App, ComposeResult

from rlx_tui.tui.app import RlxApp
from rlx_tui.tui.logview import LogView
from rlx_tui.tui.widgets import KeysFooter


async def shown_dashboard(app: RlxApp, pilot: Any) -> None:
    await wait_for(pilot, lambda: app.discovery is not None)
    app.preview(SNAPSHOT_REQUEST)
    await pilot.pause()
    await pilot.pause(2 * app.options.tick_seconds)  # every panel drew its first frame (the grid's lays out)


async def test_log_writes_repaint_without_laying_the_screen_out() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await shown_dashboard(app, pilot)
        panel = app.dashboard.log_panel
        assert panel.display
        log = panel.query_one(LogView)
        layouts: list[object] = []
        app.dashboard.screen_layout_refresh_signal.subscribe(log, layouts.append)
        for number in range(1, 31):
            panel.write_lines([f"12:00:{number:02} INFO    line {number} " + "x" * number])
            await pilot.pause()
        assert layouts == []
        text = screen_text(app)
        assert "line 30 " in text and "line 29 " in text  # scrolled to the end as lines came
        assert "line 1 " not in text
        assert log.scroll_offset.y == log.max_scroll_y > 0
        assert log.vertical_scrollbar.window_virtual_size == 30  # the scrollbars know the new size
        assert log.horizontal_scrollbar.window_virtual_size == len("12:00:30 INFO    line 30 ") + 30


class OneLog(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(5, id="log")


async def test_log_keeps_the_last_lines_and_a_scrolled_back_view() -> None:
    app = OneLog()
    async with app.run_test(size=(40, 4)) as pilot:
        log = app.query_one(LogView)
        log.write_lines([f"line {n}" for n in range(1, 9)])
        await pilot.pause()
        assert log.log_lines == [f"line {n}" for n in range(4, 9)]  # max_lines: the oldest dropped
        log.write_lines(["two\nparts", "tab\there"])
        await pilot.pause()
        assert log.log_lines[-3:] == ["two", "parts", "tab     here"]
        log.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        log.write_lines(["latest"])
        await pilot.pause()
        assert log.scroll_offset.y == 0  # the user scrolled back: new lines do not pull the view away
        assert "latest" not in screen_text(app)


async def test_the_footer_is_composed_again_only_when_its_keys_change() -> None:
    app = stub_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await shown_dashboard(app, pilot)
        footer = app.dashboard.query_one(KeysFooter)
        await wait_for(pilot, lambda: bool(footer.query("FooterKey")))
        composed = footer.recomposes
        for _ in range(3):
            app.refresh_bindings()  # nothing the footer shows changed
            await pilot.pause()
        assert footer.recomposes == composed
        pause = next(key for key in footer.query("FooterKey") if key.action == "app.pause")
        assert pause.has_class("-disabled")
        app.state.phase = "running"  # pause applies now
        app.refresh_bindings()
        await wait_for(pilot, lambda: footer.recomposes == composed + 1)
        pause = next(key for key in footer.query("FooterKey") if key.action == "app.pause")
        assert not pause.has_class("-disabled")


async def test_logged_control_characters_are_shown_as_escapes_never_sent_to_the_terminal() -> None:
    # a log line can carry text from the source (an object key, an error message): an escape
    # sequence in it must not retitle the terminal, clear the screen or recolour it
    app = OneLog()
    async with app.run_test(size=(60, 4)) as pilot:
        log = app.query_one(LogView)
        log.write_lines(["key \x1b]0;owned\x07 then \x1b[2J, \x9b31m and \u202eevil"])
        await pilot.pause()
        drawn = log.render_line(0).text
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in drawn)
        assert "\\x1b]0;owned\\x07" in drawn and "\\x1b[2J" in drawn and "\\u202e" in drawn
