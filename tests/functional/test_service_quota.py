"""Downloads are metered per user (issue 11, item 10): the service's figure, a budget, bytes paid twice.

The real fact used as fixture is the answer lakeapi 0.22.3 documents for
``used_data`` (``downloaded_gb``, ``timeframe_days``, ``user``,
``update_timestamp``); the demo lake answers the same call with the bytes it
served to the user.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rlx_tui.cli import main
from rlx_tui.partitions import PartitionKey
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.quota import TransferMeter, UsageUnavailable, budget_problem, parse_usage
from tests.functional.test_cli import common

RANGE = ["--start", "2024-01-01", "--end", "2024-01-03"]
# lakeapi.used_data's docstring: what api.crypto-lake.com/<user> returns
REAL_USAGE = {
    "downloaded_gb": 151.35,
    "timeframe_days": 31,
    "user": "my-user-email@gmail.com",
    "update_timestamp": 1656585600,
}


def run(
    lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    code = main([*args, *common(lake, data_dir)])
    out = capsys.readouterr()
    return code, out.out, out.err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_real_usage_answer_is_read() -> None:
    usage = parse_usage(REAL_USAGE)
    assert usage.downloaded_gb == 151.35 and usage.timeframe_days == 31
    assert usage.updated == dt.datetime(2022, 6, 30, 10, 40, tzinfo=dt.UTC)
    assert (
        usage.line()
        == "the service reports 151.3 GB downloaded in the last 31 days, as of 2022-06-30 10:40 UTC"
    )
    with pytest.raises(UsageUnavailable):
        parse_usage({"user": "x"})


def test_usage_is_shown_in_test_connection_and_the_plan(
    clean_demo_lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(clean_demo_lake, data_dir, capsys, "test-connection", "--json")
    assert code == 0
    assert json.loads(out)["usage"]["downloaded_gb"] == 0
    code, _, _ = run(clean_demo_lake, data_dir, capsys, "download", *RANGE, "--tables", "trades")
    assert code == 0
    served = clean_demo_lake.stats()["metered_bytes"]
    assert served > 0
    code, out, _ = run(clean_demo_lake, data_dir, capsys, "test-connection", "--json")
    assert json.loads(out)["usage"]["downloaded_gb"] == pytest.approx(served / 1e9, abs=1e-6)
    code, out, _ = run(clean_demo_lake, data_dir, capsys, "list-inventory", *RANGE, "--tables", "trades")
    assert code == 0
    assert "usage: the service reports" in out and "in the last 31 days" in out


def test_a_budget_refuses_a_larger_plan_with_one_line(
    clean_demo_lake: DemoLake,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = ["--tables", "trades,book"]
    code, _, err = run(clean_demo_lake, data_dir, capsys, "download", *RANGE, *tables, "--max-gb", "0.001")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and "more than the budget of 0.001 GB" in lines[0]
    assert clean_demo_lake.stats()["object_gets"] == {}
    assert not list((data_dir / "staging").rglob("part.parquet"))
    monkeypatch.setenv("RLX_MAX_GB", "0.001")
    code, out, err = run(clean_demo_lake, data_dir, capsys, "download", "--dry-run", *RANGE, *tables)
    assert code == 2 and "budget" in err and "6 partitions" in out
    monkeypatch.setenv("RLX_MAX_GB", "1")
    code, _, _ = run(clean_demo_lake, data_dir, capsys, "download", *RANGE, *tables)
    assert code == 0


def test_bytes_of_a_broken_transfer_are_counted_as_fetched_again(
    clean_demo_lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The connection breaks halfway through the first GET: the retry pays the object again."""
    pid = "book_delta_v2/BINANCE/BTC-USDT/2024-01-01"
    size = len(clean_demo_lake.expected_object_bytes(pid))
    clean_demo_lake.set_faults(cut_gets=1)
    dates = ["--start", "2024-01-01", "--end", "2024-01-01"]
    code, out, _ = run(
        clean_demo_lake, data_dir, capsys, "download", *dates, "--tables", "book_delta_v2", "--json"
    )
    assert code == 0
    events = json_lines(out)
    transfer = next(e for e in events if e.get("event") == "transfer")
    assert transfer["retry_bytes"] == size // 2  # what arrived before the break
    assert transfer["bytes"] == size + size // 2
    assert transfer["refetch_bytes"] == 0
    assert clean_demo_lake.stats()["cut_gets"] == 1


def test_quarantined_days_fetched_again_are_reported(
    clean_demo_lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "trades/BINANCE/BTC-USDT/2024-01-02"
    clean_demo_lake.set_faults(corrupt=[bad])
    code, _, _ = run(clean_demo_lake, data_dir, capsys, "download", *RANGE, "--tables", "trades")
    assert code == 4  # quarantined
    clean_demo_lake.set_faults(corrupt=[])
    healthy = len(clean_demo_lake.expected_object_bytes(bad))
    code, out, _ = run(
        clean_demo_lake,
        data_dir,
        capsys,
        "download",
        "--dry-run",
        *RANGE,
        "--tables",
        "trades",
        "--retry-quarantined",
    )
    assert code == 0 and "fetched again for quarantined partitions" in out
    code, out, _ = run(
        clean_demo_lake,
        data_dir,
        capsys,
        "download",
        *RANGE,
        "--tables",
        "trades",
        "--retry-quarantined",
        "--json",
    )
    assert code == 0
    transfer = next(e for e in json_lines(out) if e.get("event") == "transfer")
    assert transfer == {
        "event": "transfer",
        "bytes": healthy,
        "again_bytes": healthy,
        "retry_bytes": 0,
        "refetch_bytes": healthy,
    }
    code, out, _ = run(clean_demo_lake, data_dir, capsys, "download", *RANGE, "--tables", "trades")
    assert code == 0 and "transfer:" not in out  # nothing left to fetch, nothing paid


def test_the_meter_prices_a_partition_once() -> None:
    meter = TransferMeter()
    key = PartitionKey("trades", "BINANCE", "BTC-USDT", dt.date(2024, 1, 1))
    other = PartitionKey("book", "BINANCE", "BTC-USDT", dt.date(2024, 1, 1))
    meter.add(key, 40, complete=False)  # broke off
    meter.add(key, 100, complete=True)  # the price
    meter.add(key, 100, complete=True)  # fetched again in the same process (retry from the dashboard)
    meter.mark_paid([other])
    meter.add(other, 70, complete=True)
    totals = meter.totals()
    assert (totals.bytes, totals.retry_bytes, totals.refetch_bytes, totals.again_bytes) == (310, 140, 70, 210)
    assert budget_problem(2_000_000_000, 1.5) is not None and budget_problem(1_000_000_000, 1.5) is None
