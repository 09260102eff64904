"""Listing at the real scale: requests and time to list one request on a large demo lake.

Run:  .venv/bin/python bench/listing_bench.py [--years 3] [--symbols 20] [--days 30] [--repeat 3]

Seeds a demo lake with ``years`` x 365 days x ``symbols`` symbols x 3 tables
(tiny stub objects: only the listing matters), then lists a ``days``-day,
2-symbol, 3-table request three ways, counting requests at the demo lake's
HTTP layer (its stats endpoint) and timing each:

  rlx-tui cold   the source's date-bounded listing per stream (cache empty)
  rlx-tui warm   the same request again (within the listing cache's TTL)
  old approach   what rlx-tui did before: forget lakeapi's caches, lakeapi.list_data
                 per table and symbol (its contents index), then a full listing of
                 every stream for sizes
  lakeapi        lakeapi.list_data per table over the whole table, no index
                 (its fallback, and what the sample bucket gets)

Targets: rlx-tui cold < 20 requests and < 2 s. Medians over ``repeat`` runs
(the slow no-index baseline runs once); prints figures only.

The demo lake answers prefix listings in time proportional to the keys under
the prefix, as S3 does (``PrefixIndex`` in the demo server), so the figures
measure the client's approach rather than moto's full scan.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYMBOLS = (
    "BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "DOGE-USDT", "AVAX-USDT", "DOT-USDT",
    "LINK-USDT", "LTC-USDT", "BCH-USDT", "ATOM-USDT", "NEAR-USDT", "APT-USDT", "ARB-USDT", "OP-USDT",
    "BTC-USD", "ETH-USD", "stSOL-USDC", "mSOL-USDC",
)  # fmt: skip
TABLES = ("trades", "book", "book_delta_v2")
WANTED = ("BTC-USD", "ETH-USDT")  # BTC-USD is a prefix of BTC-USDT: it must not receive its objects


def measure(lake: Any, work: Any) -> tuple[int, int, float, int]:
    """(all requests, S3 list requests, seconds, partitions) of one call of ``work``."""
    lake.reset()
    started = time.perf_counter()
    partitions = work()
    seconds = time.perf_counter() - started
    stats = lake.stats()
    return stats["requests"], stats["list_requests"], seconds, partitions


def old_approach(source: Any, request: Any) -> int:
    """rlx-tui before issue 11: lakeapi.list_data per (table, symbol), then a size listing per stream."""
    from rlx_tui.sources.lake import forget_lakeapi_caches

    lakeapi = source._lakeapi
    forget_lakeapi_caches()  # its listing and index caches are files: now empty
    found = set()
    for table in request.tables:
        for symbol in request.symbols:
            rows = lakeapi.list_data(
                table=table,
                start=dt.datetime.combine(request.start, dt.time()),
                end=dt.datetime.combine(request.end + dt.timedelta(days=1), dt.time()),
                symbols=[symbol],
                exchanges=list(request.exchanges),
                bucket=source.bucket,
                boto3_session=source._session,
            )
            found.update((table, row["exchange"], symbol, row["dt"]) for row in rows)
    bucket, prefix = source.bucket.split("/", 1)
    paginator = source._s3().get_paginator("list_objects_v2")
    for table in request.tables:
        for exchange in request.exchanges:
            for symbol in request.symbols:
                stream = f"{prefix}/{table}/exchange={exchange}/symbol={symbol}/"
                for _page in paginator.paginate(Bucket=bucket, Prefix=stream):
                    pass
    return len(found)


def lakeapi_without_index(source: Any, request: Any) -> int:
    """lakeapi.list_data's own fallback: the whole table listed (no index), filtered afterwards."""
    from rlx_tui.sources.lake import forget_lakeapi_caches

    lakeapi = source._lakeapi
    forget_lakeapi_caches()
    found = 0
    for table in request.tables:
        rows = lakeapi.list_data(
            table=table,
            start=dt.datetime.combine(request.start, dt.time()),
            end=dt.datetime.combine(request.end + dt.timedelta(days=1), dt.time()),
            symbols=list(request.symbols),
            exchanges=list(request.exchanges),
            bucket=source.bucket,
            boto3_session=source._session,
            last_modified_begin=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),  # skips the index, as without one
        )
        found += len(rows)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from rlx_tui.partitions import Request
    from rlx_tui.service import open_workspace
    from rlx_tui.settings import load_settings
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
    from rlx_tui.sources.lake import import_lakeapi

    work = Path(tempfile.mkdtemp(prefix="rlx-listing-bench-"))
    import_lakeapi(work / "lakeapi-home")
    start = dt.date(2022, 1, 1)
    config = DemoLakeConfig(
        profile="clean",
        start=start,
        days=args.years * 365,
        symbols=SYMBOLS[: args.symbols],
        tables=TABLES,
        stub_objects=True,
        sample_days=0,
    )
    objects = config.days * len(config.symbols) * len(TABLES)
    print(f"seeding {objects:,} objects ({args.years} years x {len(config.symbols)} symbols x 3 tables)…")
    seeded = time.perf_counter()
    with DemoLake(config) as lake:
        print(f"seeded in {time.perf_counter() - seeded:.1f} s")
        first = dt.date(2023, 6, 1)
        request = Request(TABLES, ("BINANCE",), WANTED, first, first + dt.timedelta(days=args.days - 1))
        expected = args.days * len(TABLES) * len(WANTED)
        results: dict[str, list[tuple[int, int, float, int]]] = {}
        for run in range(args.repeat):
            settings = load_settings(
                env_file=None,
                overrides={
                    "source": "demo",
                    "endpoint_url": lake.endpoint_url,
                    "data_dir": work / f"data-{run}",
                },
                environ={},
            )
            with open_workspace(settings) as ws:
                source = ws.source
                results.setdefault("rlx-tui cold", []).append(
                    measure(lake, lambda ws=ws: len(ws.listing(request).objects))
                )
                results.setdefault("rlx-tui warm", []).append(
                    measure(lake, lambda ws=ws: len(ws.listing(request).objects))
                )
                results.setdefault("old approach", []).append(
                    measure(lake, lambda source=source: old_approach(source, request))
                )
                if run == 0:  # a minute or more: once is enough
                    results.setdefault("lakeapi, no index", []).append(
                        measure(lake, lambda source=source: lakeapi_without_index(source, request))
                    )
    print(
        f"\nrequest: {args.days} days x {len(WANTED)} symbols ({', '.join(WANTED)}) x {len(TABLES)} tables "
        f"= {expected} partitions; medians of {args.repeat} runs"
    )
    print(f"{'approach':<20} {'requests':>9} {'S3 lists':>9} {'seconds':>9} {'partitions':>11}")
    cold_seconds = statistics.median(r[2] for r in results["rlx-tui cold"])
    for name, rows in results.items():
        requests = int(statistics.median(r[0] for r in rows))
        lists = int(statistics.median(r[1] for r in rows))
        seconds = statistics.median(r[2] for r in rows)
        partitions = rows[-1][3]
        ratio = f"  ({seconds / cold_seconds:,.1f}x rlx-tui cold)" if name != "rlx-tui cold" else ""
        print(f"{name:<20} {requests:>9} {lists:>9} {seconds:>9.3f} {partitions:>11}{ratio}")
    cold = results["rlx-tui cold"]
    ok = all(r[0] < 20 and r[2] < 2.0 and r[3] == expected for r in cold)
    print(f"target (< 20 requests, < 2 s, {expected} partitions): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
