"""A year-sized certificate: ~1,100 ready partitions issued and verified (``bench/certificate_bench.py``
prints the figures). In the functional folder because writing 1,098 Parquet files takes seconds."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from rlx_tui.certificate import verify_certificate
from rlx_tui.partitions import Request
from rlx_tui.staging import StagingStore
from tests.unit.test_certificate import START, fill, issue


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def test_a_year_sized_request_issues_and_verifies_in_seconds(data_dir: Path) -> None:
    """~1,100 tiny partitions: three tables for 366 days (the bench prints the figures)."""
    request = Request(
        tables=("trades", "book", "book_delta_v2"),
        exchanges=("BINANCE",),
        symbols=("BTC-USDT",),
        start=START,
        end=dt.date(2024, 12, 31),
    )
    store = StagingStore(data_dir)
    fill(store, request, rows=20, publish=False)
    started = time.perf_counter()
    cert = issue(data_dir, request)
    issue_seconds = time.perf_counter() - started
    report = verify_certificate(cert.json_path)
    assert cert.partitions == 1098 and report.passed and report.checked_files == 1098
    assert issue_seconds < 20 and report.seconds < 20, (issue_seconds, report.seconds)
