"""The workspace both faces drive: settings + source + staging store + engine.

The CLI and the TUI call these functions; neither talks to lakeapi or to the
staging layout directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from rlx_tui.engine.plan import Plan
from rlx_tui.engine.run import Engine
from rlx_tui.limits import MAX_PLAN_PARTITIONS
from rlx_tui.partitions import KNOWN_TABLES, Request
from rlx_tui.settings import Settings
from rlx_tui.sources.base import Listing, Source
from rlx_tui.sources.factory import open_source
from rlx_tui.staging import StagingStore


class RequestError(ValueError):
    """The request does not fit what the source holds (one line, with the next step)."""


def latest_complete_day(today: dt.date | None = None) -> dt.date:
    """Yesterday in UTC: today's partition is still being written at the source."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=1)


def check_dates(start: dt.date, end: dt.date, today: dt.date | None = None) -> None:
    """Raise RequestError for an end before the start or a day that is not complete yet."""
    if end < start:
        raise RequestError(f"end date {end} is before start date {start}: swap them or fix the range")
    last = latest_complete_day(today)
    if end > last:
        raise RequestError(
            f"end date {end} is not complete yet at the source (latest complete UTC day is {last}): "
            f"use --end {last} or earlier"
        )


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


def clamp_to_listing(request: Request, listing: Listing) -> tuple[Request, str | None]:
    """``request`` cut to the days the listing holds, and a note saying so (None when unchanged).

    A start date of 0001-01-01 then plans the days that exist, not two thousand years of holes.
    """
    span = listing.day_span()
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


@dataclass(frozen=True)
class Discovery:
    """What the source offers, for pickers: tables, symbols, exchanges and the day span."""

    tables: tuple[str, ...]
    symbols: tuple[str, ...]
    exchanges: tuple[str, ...]
    first_day: dt.date | None
    last_day: dt.date | None


class Workspace:
    """One data directory and one source."""

    def __init__(self, settings: Settings, source: Source) -> None:
        self.settings = settings
        self.source = source
        self.store = StagingStore(settings.data_dir)

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    def engine(self, **kwargs: object) -> Engine:
        options: dict[str, object] = {"workers": self.settings.workers, "retry": self.settings.retry}
        options.update(kwargs)
        return Engine(self.source, self.store, **options)  # type: ignore[arg-type]

    def listing(self, request: Request) -> Listing:
        return self.source.list_partitions(
            request.tables, request.start, request.end, request.symbols, request.exchanges
        )

    def discover(self, start: dt.date, end: dt.date, tables: tuple[str, ...] = KNOWN_TABLES) -> Discovery:
        """List everything the source holds for ``tables`` between two days."""
        listing = self.source.list_partitions(tables, start, end, None, None)
        span = listing.day_span()
        return Discovery(
            tables=tuple(listing.tables()),
            symbols=tuple(listing.symbols()),
            exchanges=tuple(listing.exchanges()),
            first_day=span[0] if span else None,
            last_day=span[1] if span else None,
        )

    def check_request(self, request: Request, listing: Listing) -> None:
        """Refuse tables, symbols or exchanges for which the source lists nothing in the range.

        Names are checked against a broader listing (every symbol and exchange
        of the requested tables), so the message can say what exists instead.
        """
        wanted = {"table": request.tables, "symbol": request.symbols, "exchange": request.exchanges}
        present = {
            "table": {k.table for k in listing.objects},
            "symbol": {k.symbol for k in listing.objects},
            "exchange": {k.exchange for k in listing.objects},
        }
        if all(set(names) <= present[kind] for kind, names in wanted.items()):
            return
        broad = self.source.list_partitions(request.tables, request.start, request.end, None, None)
        known = {
            "table": {k.table for k in broad.objects},
            "symbol": {k.symbol for k in broad.objects},
            "exchange": {k.exchange for k in broad.objects},
        }
        for kind, names in wanted.items():
            unknown = [name for name in names if name not in known[kind]]
            if unknown:
                listed = ", ".join(sorted(known[kind])) or "none"
                raise RequestError(
                    f"unknown {kind} {', '.join(unknown)}: the source lists none between "
                    f"{request.start} and {request.end} (listed: {listed})"
                )
        if not listing.objects:
            raise RequestError(
                f"the source lists nothing for {', '.join(request.tables)} / {', '.join(request.symbols)} / "
                f"{', '.join(request.exchanges)} between {request.start} and {request.end}: "
                "check the names and the dates"
            )

    def plan(self, request: Request) -> Plan:
        listing = self.listing(request)
        self.check_request(request, listing)
        check_plan_size(request)
        return self.engine().plan(request, listing)


@contextmanager
def open_workspace(settings: Settings) -> Iterator[Workspace]:
    """Open the source the settings name (starting the demo lake if needed) and the store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open_source(settings) as source:
        yield Workspace(settings, source)
