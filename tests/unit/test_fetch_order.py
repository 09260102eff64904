"""The fetch order: plan order, with the last few partitions largest first so the slots end together."""

from __future__ import annotations

import datetime as dt

from rlx_tui.engine.plan import fetch_order
from rlx_tui.partitions import PartitionKey

DAY = dt.date(2024, 1, 1)
SIZES = {"trades": 6_000_000, "book": 19_000_000}


def day_keys(days: int) -> list[PartitionKey]:
    """Plan order: day by day, trades then book, two symbols each."""
    return [
        PartitionKey(table, "BINANCE", symbol, DAY + dt.timedelta(days=d))
        for d in range(days)
        for table in ("trades", "book")
        for symbol in ("BTC-USDT", "ETH-USDT")
    ]


def test_the_last_partitions_go_largest_first_the_rest_keeps_plan_order() -> None:
    keys = day_keys(3)
    expected = {k: SIZES[k.table] for k in keys}
    order = fetch_order(keys, expected, workers=2)
    assert sorted(order) == sorted(keys)  # nothing lost, nothing twice
    assert order[:8] == keys[:8]  # the first two days as planned
    last_day = order[8:]
    assert [k.table for k in last_day] == ["book", "book", "trades", "trades"]
    assert [k.symbol for k in last_day] == ["BTC-USDT", "ETH-USDT"] * 2  # ties keep plan order
    assert all(k.day == DAY + dt.timedelta(days=2) for k in last_day)


def test_one_worker_reorders_only_its_last_two() -> None:
    keys = day_keys(2)
    order = fetch_order(keys, {k: SIZES[k.table] for k in keys}, workers=1)
    assert order[:6] == keys[:6]
    assert [k.table for k in order[6:]] == ["book", "book"]  # already largest first: unchanged
    small_last = fetch_order(keys[::-1], {k: SIZES[k.table] for k in keys}, workers=1)
    assert [k.table for k in small_last[-2:]] == ["trades", "trades"]


def test_short_queues_and_unknown_sizes() -> None:
    keys = day_keys(1)
    assert fetch_order([], {}, workers=2) == []
    assert fetch_order(keys[:1], {}, workers=2) == keys[:1]
    assert fetch_order(keys, {}, workers=2) == keys  # no sizes: plan order
    assert [k.table for k in fetch_order(keys, {k: SIZES[k.table] for k in keys}, 2)] == [
        "book",
        "book",
        "trades",
        "trades",
    ]
