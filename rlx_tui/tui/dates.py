"""The selection screen's dates: parsing and checking a typed range, and the date input (±day, ±month)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input

from rlx_tui.service import date_problem


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RangeCheck:
    """A typed range, parsed and checked: ``problem`` is None when it is acceptable."""

    start: dt.date | None
    end: dt.date | None
    problem: str | None = None
    field: str | None = None  # "start" or "end": the input to mark


def check_range(
    start_text: str,
    end_text: str,
    first: dt.date | None,
    last: dt.date | None,
    today: dt.date | None = None,
) -> RangeCheck:
    """Parse and check a typed range against the calendar and what the source holds."""
    start, end = parse_day(start_text), parse_day(end_text)
    if start is None:
        return RangeCheck(
            None, end, f"start {start_text.strip() or '(empty)'} is not a date: type YYYY-MM-DD", "start"
        )
    if end is None:
        return RangeCheck(
            start, None, f"end {end_text.strip() or '(empty)'} is not a date: type YYYY-MM-DD", "end"
        )
    problem = date_problem(start, end, today=today, first=first, last=last)  # the CLI's own checks
    if problem is not None:
        return RangeCheck(start, end, problem.message, problem.field)
    return RangeCheck(start, end)


class DateInput(Input):
    """An ISO date input; ↑/↓ step a day, PgUp/PgDn a month."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(1)", "+1 day", show=False),
        Binding("down", "step(-1)", "-1 day", show=False),
        Binding("pageup", "month(1)", "+1 month", show=False),
        Binding("pagedown", "month(-1)", "-1 month", show=False),
    ]

    def __init__(self, value: str = "", **kwargs: object) -> None:
        super().__init__(value, placeholder="YYYY-MM-DD", max_length=10, compact=True, **kwargs)  # type: ignore[arg-type]
        self.fallback: dt.date | None = None

    def _current(self) -> dt.date | None:
        return parse_day(self.value) or self.fallback

    def _set(self, day: dt.date) -> None:
        self.value = day.isoformat()
        self.cursor_position = len(self.value)

    def action_step(self, days: int) -> None:
        current = self._current()
        if current is not None:
            self._set(current + dt.timedelta(days=days))

    def action_month(self, months: int) -> None:
        current = self._current()
        if current is not None:
            self._set(add_months(current, months))
