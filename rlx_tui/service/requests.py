"""What a request may be: dates, size, clamping to what the source holds, default names, name hints.

One set of rules and messages for both faces. Pure functions (no source, no disk),
so the CLI's parser and the dashboard's date fields call them as the user types.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rlx_tui.limits import MAX_PLAN_PARTITIONS
from rlx_tui.partitions import KNOWN_TABLES, Request, Waiver

# What a request names when the user names nothing: the usual three tables (those the
# source holds), Binance's BTC-USDT.
DEFAULT_TABLES: tuple[str, ...] = KNOWN_TABLES
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC-USDT",)
DEFAULT_EXCHANGES: tuple[str, ...] = ("BINANCE",)
_HINT_NAMES = 12


class RequestError(ValueError):
    """The request does not fit what the source holds (one line, with the next step)."""


@dataclass(frozen=True, slots=True)
class DateProblem:
    """What is wrong with a date range, and which end of it to fix."""

    field: Literal["start", "end"]
    message: str


def latest_complete_day(today: dt.date | None = None) -> dt.date:
    """Yesterday in UTC: today's partition is still being written at the source."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=1)


def date_problem(
    start: dt.date,
    end: dt.date,
    *,
    today: dt.date | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> DateProblem | None:
    """The first thing wrong with ``start .. end`` (inclusive), or None.

    ``first``/``last`` are the days the source holds, when known (the dashboard
    knows them from its listing; the CLI clamps to them instead).
    """
    if end < start:
        return DateProblem("end", f"end date {end} is before start date {start}: swap them or fix the range")
    complete = latest_complete_day(today)
    if end > complete:
        return DateProblem(
            "end",
            f"end date {end} is not complete yet at the source (latest complete UTC day is {complete}): "
            f"end on {complete} or earlier",
        )
    if first is not None and start < first:
        return DateProblem(
            "start", f"the source holds nothing before {first}: choose a start on or after {first}"
        )
    if last is not None and end > last:
        return DateProblem("end", f"the source holds nothing after {last}: choose an end on or before {last}")
    return None


def check_dates(start: dt.date, end: dt.date, today: dt.date | None = None) -> None:
    """Raise RequestError for an end before the start or a day that is not complete yet."""
    problem = date_problem(start, end, today=today)
    if problem is not None:
        raise RequestError(problem.message)


def request_size(request: Request) -> int:
    """The number of partitions of ``request`` (computed, not enumerated)."""
    days = (request.end - request.start).days + 1
    return len(request.tables) * len(request.exchanges) * len(request.symbols) * days


def check_plan_size(request: Request, limit: int = MAX_PLAN_PARTITIONS) -> None:
    """RequestError when ``request`` spans more partitions than rlx-tui plans at once."""
    size = request_size(request)
    if size > limit:
        raise RequestError(
            f"the request spans {size:,} partitions ({request.start} .. {request.end}), more than the "
            f"{limit:,} rlx-tui plans at once: narrow --start/--end or the names"
        )


def clamp_to_span(request: Request, span: tuple[dt.date, dt.date] | None) -> tuple[Request, str | None]:
    """``request`` cut to the days ``span`` holds, and a note saying so (None when unchanged).

    A start date of 0001-01-01 then plans the days that exist, not two thousand years of holes.
    """
    if span is None:
        return request, None
    start, end = max(request.start, span[0]), min(request.end, span[1])
    if start > end or (start, end) == (request.start, request.end):
        return request, None
    note = (
        f"request clamped to {start} .. {end}: the source holds nothing of it before {span[0]} "
        f"or after {span[1]}"
    )
    return replace(request, start=start, end=end), note


def preferred(defaults: Sequence[str], offered: Iterable[str]) -> tuple[str, ...]:
    """Those of ``defaults`` that are ``offered``, in the defaults' order (none offered: the defaults)."""
    held = set(offered)
    return tuple(name for name in defaults if name in held) or tuple(defaults)


def make_request(
    start: dt.date | None,
    end: dt.date | None,
    *,
    tables: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
    exchanges: tuple[str, ...] | None = None,
    default_tables: tuple[str, ...] = DEFAULT_TABLES,
    waivers: tuple[Waiver, ...] = (),
    today: dt.date | None = None,
) -> Request:
    """A checked request; names not given take the defaults (``default_tables``: those the source holds)."""
    if start is None or end is None:
        raise RequestError(
            "--start and --end are required (ISO dates, end inclusive), "
            "e.g. --start 2024-01-01 --end 2024-01-03"
        )
    check_dates(start, end, today)
    return Request(
        tables=tables or default_tables,
        exchanges=exchanges or DEFAULT_EXCHANGES,
        symbols=symbols or DEFAULT_SYMBOLS,
        start=start,
        end=end,
        waivers=waivers,
    )


def name_hint(kind: str, unknown: str, known: set[str]) -> str:
    """What exists instead of ``unknown``: the closest names, and every name when there are few."""
    if not known:
        return f"the source lists no {kind} here"
    close = [k for k in sorted(known) if k.lower() == unknown.lower()]
    close = close or difflib.get_close_matches(unknown, sorted(known), n=3, cutoff=0.6)
    near = f"did you mean {' or '.join(close)}? " if close else ""
    if len(known) <= _HINT_NAMES:
        return near + "listed: " + ", ".join(sorted(known))
    return f"{near}{len(known)} {kind}s listed (see the dashboard's pickers)"
