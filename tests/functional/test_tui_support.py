"""Helpers shared by the TUI tests (no tests here): settings, a stub source, waiting, frozen events."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from rich.cells import cell_len
from textual.app import App
from textual.pilot import Pilot

from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionStarted,
    PartitionState,
    PlannedPartition,
    PlanReady,
    Retrying,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.partitions import KNOWN_TABLES, ObjectRef, PartitionKey, Request
from rlx_tui.service import Workspace
from rlx_tui.settings import load_settings
from rlx_tui.sources.base import Listing
from rlx_tui.staging import SourceInfo, StoreStatus, Zone, ZoneStats
from rlx_tui.tui.app import AppOptions, RlxApp
from rlx_tui.validation.findings import Finding, Severity
from tests.conftest import demo_settings as demo_settings  # one helper for every test (re-exported)

TODAY = dt.date(2026, 1, 1)
FIRST_DAY = dt.date(2024, 1, 1)
SNAPSHOT_DATA_DIR = Path("/nonexistent/rlx-snapshot-data")


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the app run until ``condition()`` holds (bounded; fails the test on timeout)."""
    steps = int(timeout / 0.02)
    for _ in range(steps):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


_SVG = "{http://www.w3.org/2000/svg}"
_LINE_CLIP = re.compile(r"url\(#.+-line-(\d+)\)")


def screen_text(app: App[Any]) -> str:
    """The current screen as plain text (what a person reads), through public API only.

    ``App.export_screenshot`` renders the whole screen (every layer, modals included)
    to SVG, the format the snapshot tests compare. Rich writes each run of text as a
    ``<text>`` element clipped to its screen line, at ``x = column * char_width`` with
    ``textLength = char_width * len(text)``, and leaves blank runs out: put each run
    back at its column (a wide character fills two).
    """
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for element in ElementTree.fromstring(app.export_screenshot()).iter(f"{_SVG}text"):
        clip = _LINE_CLIP.fullmatch(element.get("clip-path", ""))
        text = (element.text or "").replace("\N{NO-BREAK SPACE}", " ")
        if clip is None or not text:
            continue
        char_width = float(element.get("textLength", "0")) / len(text)
        row, column = int(clip.group(1)), round(float(element.get("x", "0")) / char_width)
        for char in text if row < height else "":
            cells = cell_len(char)
            rows[row][column : column + cells] = [char] + [""] * (cells - 1)  # a wide char takes two
            column += cells
    return "\n".join("".join(row[:width]) for row in rows)


class StubSource:
    """A source that lists a fixed 10-day demo-like lake and never fetches (for snapshots)."""

    info = SourceInfo("demo", None, "qnt.data/market-data/cryptofeed", True)
    symbols = ("BTC-USDT", "ETH-USDT")

    def check_connection(self) -> str:
        return "stub"

    def list_partitions(
        self,
        tables: Iterable[str],
        start: dt.date,
        end: dt.date,
        symbols: Iterable[str] | None = None,
        exchanges: Iterable[str] | None = None,
    ) -> Listing:
        wanted_symbols = set(symbols) if symbols else set(self.symbols)
        wanted_exchanges = set(exchanges) if exchanges else {"BINANCE"}
        objects: dict[PartitionKey, tuple[ObjectRef, ...]] = {}
        for offset in range(10):
            day = FIRST_DAY + dt.timedelta(days=offset)
            if not start <= day <= end:
                continue
            for table in tables:
                if table not in KNOWN_TABLES:
                    continue
                for symbol in self.symbols:
                    if symbol in wanted_symbols and "BINANCE" in wanted_exchanges:
                        key = PartitionKey(table, "BINANCE", symbol, day)
                        name = f"{table}/exchange=BINANCE/symbol={symbol}/dt={day}/1.snappy.parquet"
                        objects[key] = (ObjectRef(name, "1.snappy.parquet", 250_000),)
        return Listing(objects)

    def fetch(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the stub source does not fetch")

    def close(self) -> None:
        """Nothing to release."""


def stub_app() -> RlxApp:
    """An app over the stub source with every source of nondeterminism switched off."""
    settings = load_settings(
        env_file=None,
        overrides={"source": "demo", "endpoint_url": "http://127.0.0.1:9", "data_dir": SNAPSHOT_DATA_DIR},
        environ={},
    )
    options = AppOptions(
        free_disk=lambda _path: 250_000_000_000,
        watch_store=False,
        capture_logs=False,
        cursor_blink=False,
        remember=False,
        today=TODAY,
        discover_extra_tables=False,
        estimate_delay=0.0,
        foreground=True,
    )
    return RlxApp(workspace=Workspace(settings, StubSource()), options=options)  # type: ignore[arg-type]


SNAPSHOT_REQUEST = Request(
    tables=("trades", "book"),
    exchanges=("BINANCE",),
    symbols=("BTC-USDT", "ETH-USDT"),
    start=dt.date(2024, 1, 1),
    end=dt.date(2024, 1, 5),
)


def mid_run_events(request: Request = SNAPSHOT_REQUEST) -> Iterator[Event]:
    """A frozen run: 8 ready, 1 quarantined, 1 validating, 1 retrying, 1 downloading, 1 missing."""
    keys = request.partitions()
    missing = keys[-1]
    items = tuple(
        PlannedPartition(k, PartitionState.MISSING if k == missing else PartitionState.QUEUED, 250_000)
        for k in keys
    )
    queued = len(keys) - 1
    yield PlanReady(100.0, items, queued, 0, 1, queued * 250_000, 30.0, True)
    at = 100.0
    for index, key in enumerate(keys[:9]):
        worker = 1 + index % 2
        at += 0.5
        size, rows = 240_000 + index * 1_000, 40_000 + index * 10
        yield PartitionStarted(at, key, worker, 1)
        yield Downloaded(at + 0.2, key, worker, size, rows, 0.2)
        yield ValidationStarted(at + 0.2, key, worker)
        if index == 5:
            reason = f"{key.id}: gap of 3,600 s between trades exceeds the 600 s threshold"
            finding = Finding("trades.max_gap", Severity.ERROR, 3600, 600, reason)
            yield Validated(at + 0.3, key, Zone.QUARANTINE, (finding,), reason, size, rows)
        else:
            yield Validated(at + 0.3, key, Zone.READY, (), None, size, rows)
    yield PartitionStarted(at + 0.5, keys[9], 1, 1)
    yield ValidationStarted(at + 1.0, keys[9], 1)
    yield PartitionStarted(at + 0.6, keys[10], 2, 1)
    yield Retrying(at + 0.9, keys[10], 2, 1, "503 SlowDown from the source, retrying", 1.5, 2.0)
    history = tuple(float(200_000 + (i * 37) % 11 * 60_000) for i in range(40))
    yield Throughput(
        at + 1.5,
        bytes_per_s=845_000.0,
        rows_per_s=141_000.0,
        history=history,
        done_bytes=sum(240_000 + i * 1_000 for i in range(9)),
        expected_bytes=queued * 250_000,
        done_partitions=9,
        total_partitions=len(keys),
        eta_seconds=14.0,
        in_flight=((keys[9].id, 1, 1.0),),
        retries=1,
        failures=0,
    )


def mid_run_status() -> StoreStatus:
    keys = SNAPSHOT_REQUEST.partitions()
    return StoreStatus(
        zones={
            Zone.RAW: ZoneStats(0, 0),
            Zone.VALIDATING: ZoneStats(1, 249_000),
            Zone.READY: ZoneStats(8, 1_952_000),
            Zone.QUARANTINE: ZoneStats(1, 245_000),
        },
        quarantined=((keys[5], "gap of 3,600 s between trades exceeds the 600 s threshold"),),
    )
