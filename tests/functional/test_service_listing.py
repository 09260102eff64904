"""Names and listing as the real lake has them (issue 11, items 1, 7 and 9).

The fixtures are the real service's facts: SERUM's lower-case tokens
(``stSOL-USDC``, ``mSOL-USDC``) that lakeapi's ``lstrip('symbol=')`` mangles,
BINANCE_FUTURES' ``-PERP`` symbols, USD quotes that are prefixes of USDT ones
(``BTC-USD`` / ``BTC-USDT``), randomly named objects, keys that do not fit the
layout, tables beyond the three the demo generates. One symbol is wholly lower
case (``soeth-usdc``, hypothetical): lakeapi's ``load_data`` refuses it, so it
must take rlx-tui's own transfer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from test_tui_support import wait_for

from rlx_tui.cli import main
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.service import Workspace, open_workspace
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
from rlx_tui.sources.lake import forget_lakeapi_caches
from rlx_tui.staging import DATA_FILE, Zone
from rlx_tui.tui.app import AppOptions, RlxApp
from tests.conftest import demo_settings
from tests.functional.test_cli import common
from tests.functional.test_engine import expected_ready_table

SYMBOLS = ("BTC-USD", "BTC-USDT", "BTC-USDT-PERP", "stSOL-USDC", "mSOL-USDC", "soeth-usdc")
EXCHANGES = ("BINANCE_FUTURES", "SERUM")
START = dt.date(2024, 1, 1)
RANDOM_NAME = "7f3c9e2a41d84b0f9c5e6a1d2b3c4d5e.snappy.parquet"  # the data page shows names like this


@pytest.fixture(scope="module")
def names_lake(lakeapi_home: Path) -> Iterator[DemoLake]:
    config = DemoLakeConfig(
        profile="clean", days=4, symbols=SYMBOLS, exchanges=EXCHANGES, tables=("trades",), sample_days=0
    )
    with DemoLake(config) as lake:
        yield lake


@pytest.fixture
def lake(names_lake: DemoLake) -> Iterator[DemoLake]:
    names_lake.reset()
    yield names_lake
    names_lake.reset()


@pytest.fixture
def ws(lake: DemoLake, data_dir: Path) -> Iterator[Workspace]:
    with open_workspace(demo_settings(lake, data_dir)) as workspace:
        yield workspace


@pytest.fixture
def put(lake: DemoLake) -> Iterator[Any]:
    """Upload real-layout objects for one test; they are removed afterwards (the lake is shared)."""
    client = lake.session().client("s3")
    keys: list[str] = []

    def upload(key: str, payload: bytes) -> None:
        client.put_object(Bucket="qnt.data", Key=key, Body=payload)
        keys.append(key)

    yield upload
    for key in keys:
        client.delete_object(Bucket="qnt.data", Key=key)


def stream_key(table: str, exchange: str, symbol: str, day: str, name: str) -> str:
    return f"market-data/cryptofeed/{table}/exchange={exchange}/symbol={symbol}/dt={day}/{name}"


# -- names ----------------------------------------------------------------------------------------


def test_discovery_keeps_the_names_lakeapi_mangles(lake: DemoLake, ws: Workspace) -> None:
    lakeapi: Any = ws.source._lakeapi  # type: ignore[attr-defined]
    forget_lakeapi_caches()
    rows = lakeapi.list_data(
        "trades", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), boto3_session=lake.session()
    )
    from_lakeapi = {row["symbol"] for row in rows}
    assert "tSOL-USDC" in from_lakeapi and "SOL-USDC" in from_lakeapi  # lstrip('symbol=') at work
    assert "stSOL-USDC" not in from_lakeapi and "mSOL-USDC" not in from_lakeapi
    discovery = ws.discover()
    assert discovery.symbols == tuple(sorted(SYMBOLS))
    assert discovery.exchanges == EXCHANGES
    assert discovery.tables == ("trades",)  # what the source holds, not a built-in list
    assert (discovery.first_day, discovery.last_day) == (START, START + dt.timedelta(days=3))


def test_a_symbol_never_receives_a_longer_symbols_objects(ws: Workspace) -> None:
    for symbol in ("BTC-USD", "BTC-USDT"):
        listing = ws.source.list_partitions(
            ["trades"], START, START + dt.timedelta(days=1), [symbol], EXCHANGES
        )
        assert {k.symbol for k in listing.objects} == {symbol}
        assert len(listing.objects) == 4
        assert all(f"/symbol={symbol}/" in ref.key for refs in listing.objects.values() for ref in refs)


def test_cli_takes_lower_case_perp_and_prefix_symbols_end_to_end(
    lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    symbols = "stSOL-USDC,BTC-USD,BTC-USDT-PERP,soeth-usdc"
    args = ["--start", "2024-01-01", "--end", "2024-01-02", "--tables", "trades", "--symbols", symbols]
    args += ["--exchanges", ",".join(EXCHANGES), *common(lake, data_dir)]
    assert main(["download", *args]) == 0, capsys.readouterr()
    ready = data_dir / "staging" / "ready"
    for exchange in EXCHANGES:
        for symbol in symbols.split(","):
            for day in ("2024-01-01", "2024-01-02"):
                path = (
                    ready / "trades" / f"exchange={exchange}" / f"symbol={symbol}" / f"dt={day}" / DATA_FILE
                )
                pid = f"trades/{exchange}/{symbol}/{day}"
                assert pq.read_table(path).equals(expected_ready_table(lake, pid)), pid
    capsys.readouterr()
    assert main(["certify", *args, "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["partitions"] == 16
    certificate = json.loads(Path(issued["json_path"]).read_text())
    assert set(certificate["request"]["symbols"]) == set(symbols.split(","))
    assert main(["verify", issued["json_path"], *common(lake, data_dir)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--symbols", "stsol-usdc", "--exchanges", "SERUM"], "did you mean stSOL-USDC"),
        (["--symbols", "BTC-USD", "--exchanges", "BINANCE"], "listed: BINANCE_FUTURES, SERUM"),
        (["--symbols", "BTC-USD", "--exchanges", "SERUM", "--tables", "funding"], "listed: trades"),
    ],
)
def test_cli_hints_name_what_the_source_holds(
    lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    dates = ["--start", "2024-01-01", "--end", "2024-01-02"]
    code = main(["download", "--dry-run", *dates, *args, *common(lake, data_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert said in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_cli_default_tables_are_those_the_source_holds(
    lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dates = ["--start", "2024-01-01", "--end", "2024-01-02"]
    args = ["--symbols", "BTC-USD", "--exchanges", "SERUM", "--json", *common(lake, data_dir)]
    code = main(["download", "--dry-run", *dates, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    plan = json.loads(out.out)
    assert plan["request"]["tables"] == ["trades"]  # book and book_delta_v2 are not held here
    assert plan["summary"]["to_fetch"] == 2


async def test_dashboard_pickers_offer_the_sources_names(lake: DemoLake, data_dir: Path) -> None:
    options = AppOptions(
        cursor_blink=False, discover_extra_tables=False, estimate_delay=0.05, remember=False, foreground=True
    )
    app = RlxApp(demo_settings(lake, data_dir), options=options)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.discovery is not None, timeout=30)
        screen = app.selection_screen
        assert screen.query_one("#symbols").values == sorted(SYMBOLS)
        assert screen.query_one("#exchanges").values == list(EXCHANGES)
        assert screen.query_one("#tables").values == ["trades"]
        await wait_for(pilot, lambda: screen.summary_text not in ("", "estimating…"), timeout=30)


# -- listing at the real scale --------------------------------------------------------------------


def test_listing_costs_one_call_per_stream_and_is_cached(lake: DemoLake, ws: Workspace) -> None:
    request = Request(("trades",), ("SERUM",), ("stSOL-USDC", "BTC-USD"), START, START + dt.timedelta(days=1))
    first = ws.listing(request)
    assert len(first.objects) == 4
    assert lake.stats()["list_requests"] == 2  # one per stream, whatever the lake holds
    lake.reset()
    assert ws.listing(request).objects == first.objects
    assert lake.stats()["requests"] == 0  # within the TTL: from the cache
    ws.refresh()
    assert ws.listing(request).objects == first.objects
    assert lake.stats()["list_requests"] == 2


def test_a_zero_ttl_lists_every_time(lake: DemoLake, data_dir: Path) -> None:
    with open_workspace(demo_settings(lake, data_dir, listing_ttl=0)) as ws:
        for _ in range(2):
            ws.source.list_partitions(["trades"], START, START, ["BTC-USD"], ["SERUM"])
    assert lake.stats()["list_requests"] == 2


def test_listing_has_sizes_etags_and_pages_through_a_crowded_day(
    lake: DemoLake, ws: Workspace, put: Any
) -> None:
    """A day split into many randomly named objects: all listed (several pages), each with size and MD5."""
    pid = "trades/BINANCE_FUTURES/BTC-USDT-PERP/2024-01-03"
    payload = lake.expected_object_bytes(pid)
    names = [f"{i:02d}{RANDOM_NAME[2:]}" for i in range(20)]
    for name in names:
        put(stream_key("trades", "BINANCE_FUTURES", "BTC-USDT-PERP", "2024-01-03", name), payload)
    lake.reset()
    day = dt.date(2024, 1, 3)
    listing = ws.source.list_partitions(["trades"], day, day, ["BTC-USDT-PERP"], ["BINANCE_FUTURES"])
    refs = listing.objects[PartitionKey("trades", "BINANCE_FUTURES", "BTC-USDT-PERP", day)]
    assert sorted(r.filename for r in refs) == sorted([*names, "1.snappy.parquet"])
    assert lake.stats()["list_requests"] == 3  # pages sized for one day, then continued
    md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    assert all(r.size == len(payload) and r.etag == md5 for r in refs)


def test_keys_outside_the_layout_are_skipped_and_reported(lake: DemoLake, ws: Workspace, put: Any) -> None:
    put(stream_key("trades", "SERUM", "mSOL-USDC", "2024-01-02", "README.txt"), b"not data")
    put(stream_key("trades", "SERUM", "mSOL-USDC", "2024-13-01", "1.snappy.parquet"), b"bad day")
    ws.refresh()
    listing = ws.source.list_partitions(
        ["trades"], START, START + dt.timedelta(days=3), ["mSOL-USDC"], ["SERUM"]
    )
    assert len(listing.objects) == 4
    assert any(k.endswith("README.txt") for k in listing.skipped_keys)


def test_tables_beyond_the_built_in_three_are_discovered_and_accepted(
    lake: DemoLake, ws: Workspace, put: Any
) -> None:
    """A table the source lists without an index (found by listing it, as lakeapi's fallback does)."""
    payload = lake.expected_object_bytes("trades/SERUM/BTC-USD/2024-01-01")
    put(stream_key("funding", "BINANCE_FUTURES", "BTC-USDT-PERP", "2024-01-02", RANDOM_NAME), payload)
    ws.refresh()
    discovery = ws.discover()
    assert discovery.tables == ("funding", "trades")
    request = Request(
        ("funding",), ("BINANCE_FUTURES",), ("BTC-USDT-PERP",), START, START + dt.timedelta(days=2)
    )
    listing = ws.listing(request)
    ws.check_request(request, listing)  # accepted: the source holds it
    assert [k.day for k in listing.objects] == [dt.date(2024, 1, 2)]
    assert ws.store.read_manifest(Zone.READY, next(iter(listing.objects))) is None


def test_the_dashboards_relist_forgets_cached_listings(lake: DemoLake, ws: Workspace) -> None:
    from rlx_tui.tui.source_tasks import discover_known_tables

    discover_known_tables(ws, None)
    lake.reset()
    discover_known_tables(ws, None)  # first listing after opening: the cache serves it
    assert lake.stats()["requests"] == 0
    discover_known_tables(ws, None, refresh=True)  # ctrl+r
    assert lake.stats()["list_requests"] >= 1 and lake.stats()["index_gets"] == 1


def test_listing_is_never_answered_by_lakeapis_leaked_cache(lake: DemoLake, data_dir: Path) -> None:
    """lakeapi's botocache context, entered by two fetch threads at once, leaves botocore patched."""
    import threading

    import botocore.client
    import cachetools
    from botocache.botocache import botocache_context

    from rlx_tui.sources.base import ErrorKind, SourceError

    original = botocore.client.BaseClient
    first, second = (
        botocache_context(cache=cachetools.TTLCache(100, 3600), action_regex_to_cache=["List.*"])
        for _ in range(2)
    )
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    try:
        assert botocore.client.BaseClient is not original  # the leak, as two overlapping contexts leave it
        with open_workspace(demo_settings(lake, data_dir, listing_ttl=0)) as ws:
            listing = ws.source.list_partitions(["trades"], START, START, ["BTC-USD"], ["SERUM"])
            lake.set_faults(deny_all=True)
            with pytest.raises(SourceError) as denied:  # a cached answer would hide the refusal
                ws.source.list_partitions(["trades"], START, START, ["BTC-USD"], ["SERUM"])
            assert denied.value.kind is ErrorKind.ACCESS_DENIED
            lake.set_faults(deny_all=False)
            key = next(iter(listing.objects))
            (data_dir / "attempt").mkdir()
            ws.source.fetch(key, listing.objects[key], data_dir / "attempt", threading.Event())
        assert botocore.client.BaseClient is original  # undone once no fetch runs
    finally:
        botocore.client.BaseClient = original
