"""The workspace both faces drive: one data directory (settings + staging store) and one source.

:func:`open_workspace` opens the source the settings name (starting the demo lake
when asked to); the use cases in the sibling modules take the :class:`Workspace`.
Neither face talks to lakeapi, the source or the staging layout directly.
Heavy imports (the source, the engine) happen when a workspace is opened, not
when this module is imported.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui.datadir import check_layout, check_usable
from rlx_tui.limits import MIN_FREE_BYTES
from rlx_tui.partitions import KNOWN_TABLES, PartitionKey, Request
from rlx_tui.service.errors import NoSpace
from rlx_tui.service.requests import DEFAULT_TABLES, RequestError, latest_complete_day, name_hint, preferred
from rlx_tui.settings import Settings
from rlx_tui.staging import SourceInfo, StagingStore
from rlx_tui.units import human_bytes

if TYPE_CHECKING:
    from rlx_tui.engine.run import Engine
    from rlx_tui.sources.base import Listing, Source
    from rlx_tui.sources.listing import Catalog
    from rlx_tui.sources.quota import TransferTotals, Usage

DISCOVERY_START = dt.date(2017, 1, 1)


@dataclass(frozen=True)
class Discovery:
    """What the source offers, for pickers: tables, symbols, exchanges, the day span, the default tables."""

    tables: tuple[str, ...]
    symbols: tuple[str, ...]
    exchanges: tuple[str, ...]
    first_day: dt.date | None
    last_day: dt.date | None
    default_tables: tuple[str, ...] = DEFAULT_TABLES

    def with_tables(self, tables: tuple[str, ...]) -> Discovery:
        """This discovery with ``tables`` offered as well."""
        merged = tuple(dict.fromkeys(self.tables + tables))
        return Discovery(
            merged, self.symbols, self.exchanges, self.first_day, self.last_day, self.default_tables
        )


def prepare_data_dir(path: Path) -> None:
    """Create and check the data directory for a command that writes: usable, no links, some space.

    Raises :class:`~rlx_tui.datadir.DataDirError` (unusable) or :class:`NoSpace`.
    """
    check_usable(path)
    check_layout(path)
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise NoSpace(
            f"no space left in {path} ({human_bytes(free)} free, rlx-tui needs at least "
            f"{human_bytes(MIN_FREE_BYTES)} to run): free space or choose another --data-dir"
        )


class Workspace:
    """One data directory and one source; the use cases of :mod:`rlx_tui.service` take one."""

    def __init__(self, settings: Settings, source: Source) -> None:
        self.settings = settings
        self.source = source
        self.store = StagingStore(settings.data_dir)
        # Partitions the runs of this workspace saw fail (not missing at the source), with the
        # cause: a certificate's blockers name the cause instead of "not fetched yet".
        self.failures: dict[PartitionKey, str] = {}

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    @property
    def info(self) -> SourceInfo:
        """Which source this is (name, endpoint, bucket, synthetic)."""
        return self.source.info

    def engine(self, **kwargs: Any) -> Engine:
        """An engine for one run: the source asks the service again how to download each table."""
        from rlx_tui.service.engine import ServiceEngine

        begin_run = getattr(self.source, "begin_run", None)
        if begin_run is not None:
            begin_run()
        options: dict[str, Any] = {
            "workers": self.settings.workers,
            "retry": self.settings.retry,
            "max_gb": self.settings.max_gb,
            "meter": getattr(self.source, "meter", None),
        }
        options.update(kwargs)
        return ServiceEngine(self.source, self.store, **options)

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
        defaults = self.default_tables()
        if catalog is None:  # a source without a catalog: list everything in the range
            listing = self.source.list_partitions(
                tables or KNOWN_TABLES, start or DISCOVERY_START, end or latest_complete_day(), None, None
            )
            span = listing.day_span()
            return Discovery(
                tuple(listing.tables()),
                tuple(listing.symbols()),
                tuple(listing.exchanges()),
                span[0] if span else None,
                span[1] if span else None,
                defaults,
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
            default_tables=defaults,
        )

    def default_tables(self) -> tuple[str, ...]:
        """The tables a request takes when none are named: the usual three that the source holds."""
        tables = getattr(self.source, "tables", None)
        return preferred(DEFAULT_TABLES, tables() if tables is not None else DEFAULT_TABLES)

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

    # -- the service's figures ------------------------------------------------------------
    def usage(self) -> tuple[Usage | None, str]:
        """What the service reports as downloaded, and the line to show (the reason when it does not)."""
        from rlx_tui.sources.quota import UsageUnavailable

        usage = getattr(self.source, "usage", None)
        if usage is None:
            return None, "usage: not reported by this source"
        try:
            found: Usage = usage()
        except UsageUnavailable as exc:
            return None, f"usage: not reported ({exc})"
        return found, f"usage: {found.line()}"

    def transfer_totals(self) -> TransferTotals | None:
        """Bytes fetched from the source by this process, and how many of them again."""
        meter = getattr(self.source, "meter", None)
        totals: TransferTotals | None = meter.totals() if meter is not None else None
        return totals

    def transfer_methods(self, tables: tuple[str, ...]) -> dict[str, str]:
        """How the service wants each table downloaded (raises SourceError(UPGRADE) if it refuses)."""
        methods = getattr(self.source, "transfer_methods", None)
        found: dict[str, str] = methods(tables) if methods is not None else {}
        return found

    def notices(self) -> list[str]:
        """Warnings from the service to show once (an outdated lakeapi)."""
        return list(getattr(self.source, "notices", ()))


@contextmanager
def open_workspace(settings: Settings, *, prepare_fetch: bool = True) -> Iterator[Workspace]:
    """Open the source the settings name (starting the demo lake if needed) and the store.

    ``prepare_fetch=False``: a workspace that is listed first (the dashboard's) does not import
    what fetching needs (lakeapi, pyarrow) while a demo lake starts; its first fetch does.
    """
    from rlx_tui.sources.factory import open_source

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open_source(settings, prepare_fetch=prepare_fetch) as source:
        yield Workspace(settings, source)


@contextmanager
def source_started_early(settings: Settings) -> Iterator[None]:
    """Start the embedded demo lake (if the settings name one) now, before the caller's own imports;
    :func:`open_workspace` adopts it. One nobody adopted is stopped on exit."""
    from rlx_tui.sources.factory import launch_early, stop_early

    launch_early(settings)
    try:
        yield
    finally:
        stop_early()
