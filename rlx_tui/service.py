"""The workspace both faces drive: settings + source + staging store + engine.

The CLI and the TUI call these functions; neither talks to lakeapi or to the
staging layout directly.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlx_tui.engine.events import PartitionState
from rlx_tui.engine.plan import Plan
from rlx_tui.engine.run import Engine, RunRefused
from rlx_tui.limits import MAX_PLAN_PARTITIONS
from rlx_tui.partitions import KNOWN_TABLES, Request
from rlx_tui.settings import Settings
from rlx_tui.sources.base import Listing, Source
from rlx_tui.sources.factory import open_source
from rlx_tui.sources.listing import Catalog
from rlx_tui.sources.quota import TransferTotals, Usage, UsageUnavailable, budget_problem
from rlx_tui.staging import StagingStore, Zone


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


DEFAULT_TABLES: tuple[str, ...] = (
    KNOWN_TABLES  # offered first, and the CLI's default where the source has them
)
_HINT_NAMES = 12


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


class ServiceEngine(Engine):
    """The engine with the service's rules: a download budget, and bytes paid twice marked.

    The budget is checked with the disk preflight, after quarantined
    partitions were queued again (they cost their bytes again).
    """

    def __init__(self, *args: Any, max_gb: float | None = None, meter: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_gb = max_gb
        self.meter = meter

    def check_disk(self, plan: Plan) -> None:
        problem = budget_problem(plan.expected_bytes, self.max_gb)
        if problem is not None:
            raise RunRefused(problem, "budget")
        super().check_disk(plan)

    def requeue_quarantined(self, request: Request) -> int:
        keys = [k for k in request.partitions() if self.store.read_manifest(Zone.QUARANTINE, k) is not None]
        if self.meter is not None:
            self.meter.mark_paid(keys)  # their bytes were paid for once already
        relist = getattr(self.source, "relist", None)
        if relist is not None:
            relist(keys)  # a day quarantined may have been replaced at the source since
        return super().requeue_quarantined(request)


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
        """An engine for one run: the source asks the service again how to download each table."""
        begin_run = getattr(self.source, "begin_run", None)
        if begin_run is not None:
            begin_run()
        options: dict[str, object] = {
            "workers": self.settings.workers,
            "retry": self.settings.retry,
            "max_gb": self.settings.max_gb,
            "meter": getattr(self.source, "meter", None),
        }
        options.update(kwargs)
        return ServiceEngine(self.source, self.store, **options)  # type: ignore[arg-type]

    def listing(self, request: Request) -> Listing:
        return self.source.list_partitions(
            request.tables, request.start, request.end, request.symbols, request.exchanges
        )

    def refresh(self) -> None:
        """Forget cached listings: the next listing asks the source."""
        refresh = getattr(self.source, "refresh", None)
        if refresh is not None:
            refresh()

    def catalog(self) -> Catalog | None:
        """Every stream the source holds (None for a source without a catalog)."""
        catalog = getattr(self.source, "catalog", None)
        return catalog() if catalog is not None else None

    def discover(
        self, start: dt.date | None = None, end: dt.date | None = None, tables: tuple[str, ...] | None = None
    ) -> Discovery:
        """Every table, symbol and exchange the source holds (``tables`` narrows), from parsed keys."""
        catalog = self.catalog()
        if catalog is None:  # a source without a catalog: list everything in the range
            listing = self.source.list_partitions(
                tables or KNOWN_TABLES, start or dt.date(2017, 1, 1), end or latest_complete_day(), None, None
            )
            span = listing.day_span()
            return Discovery(
                tuple(listing.tables()),
                tuple(listing.symbols()),
                tuple(listing.exchanges()),
                span[0] if span else None,
                span[1] if span else None,
            )
        offered = [t for t in catalog.tables if tables is None or t in tables]
        span = catalog.day_span(offered)
        first = max(span[0], start) if span and start else span[0] if span else None
        last = min(span[1], end) if span and end else span[1] if span else None
        return Discovery(
            tables=tuple(offered),
            symbols=tuple(catalog.symbols(offered)),
            exchanges=tuple(catalog.exchanges(offered)),
            first_day=first,
            last_day=last,
        )

    def default_tables(self) -> tuple[str, ...]:
        """The tables a request takes when none are named: the usual three that the source holds."""
        tables = getattr(self.source, "tables", None)
        offered = set(tables()) if tables is not None else set(DEFAULT_TABLES)
        return tuple(t for t in DEFAULT_TABLES if t in offered) or DEFAULT_TABLES

    def check_request(self, request: Request, listing: Listing) -> None:
        """Refuse tables, symbols or exchanges for which the source lists nothing in the range.

        The message says what exists instead, from the source's catalog (or a
        broader listing for a source without one).
        """
        wanted = {"table": request.tables, "exchange": request.exchanges, "symbol": request.symbols}
        present = {
            "table": {k.table for k in listing.objects},
            "symbol": {k.symbol for k in listing.objects},
            "exchange": {k.exchange for k in listing.objects},
        }
        if all(set(names) <= present[kind] for kind, names in wanted.items()):
            return
        catalog = self.catalog()
        if catalog is not None:
            known = {
                "table": set(catalog.tables),
                "exchange": set(catalog.exchanges(request.tables)),
                "symbol": set(catalog.symbols(request.tables, request.exchanges)),
            }
        else:
            broad = self.source.list_partitions(request.tables, request.start, request.end, None, None)
            known = {
                "table": {k.table for k in broad.objects},
                "symbol": {k.symbol for k in broad.objects},
                "exchange": {k.exchange for k in broad.objects},
            }
        for kind, names in wanted.items():
            unknown = [name for name in names if name not in known[kind]]
            if unknown:
                where = "" if kind == "table" else f" for {', '.join(request.tables)}"
                if kind == "symbol":
                    where += f" on {', '.join(request.exchanges)}"
                raise RequestError(
                    f"unknown {kind} {', '.join(unknown)}: the source lists none{where} "
                    f"({name_hint(kind, unknown[0], known[kind])})"
                )
        if not listing.objects:
            held = catalog.day_span(request.tables) if catalog is not None else None
            holds = f" (it holds {held[0]} to {held[1]})" if held else ""
            raise RequestError(
                f"the source lists nothing for {', '.join(request.tables)} / {', '.join(request.symbols)} / "
                f"{', '.join(request.exchanges)} between {request.start} and {request.end}{holds}: "
                "check the names and the dates"
            )

    def plan(self, request: Request) -> Plan:
        listing = self.listing(request)
        self.check_request(request, listing)
        check_plan_size(request)
        return self.engine().plan(request, listing)

    # -- the service's figures ------------------------------------------------------------
    def usage(self) -> tuple[Usage | None, str]:
        """What the service reports as downloaded, and the line to show (the reason when it does not)."""
        usage = getattr(self.source, "usage", None)
        if usage is None:
            return None, "usage: not reported by this source"
        try:
            found = usage()
        except UsageUnavailable as exc:
            return None, f"usage: not reported ({exc})"
        return found, f"usage: {found.line()}"

    def transfer_totals(self) -> TransferTotals | None:
        """Bytes fetched from the source by this process, and how many of them again."""
        meter = getattr(self.source, "meter", None)
        return meter.totals() if meter is not None else None

    def notices(self) -> list[str]:
        """Warnings from the service to show once (an outdated lakeapi)."""
        return list(getattr(self.source, "notices", ()))


def refetch_bytes(plan: Plan) -> int:
    """Expected bytes of the plan's quarantined partitions: fetched again by a retry."""
    return sum(p.expected_bytes for p in plan.items if p.state is PartitionState.QUARANTINED)


@contextmanager
def open_workspace(settings: Settings) -> Iterator[Workspace]:
    """Open the source the settings name (starting the demo lake if needed) and the store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open_source(settings) as source:
        yield Workspace(settings, source)
