"""Benchmark: issue and verify a certificate over a 12-month-sized request of tiny partitions.

Builds 3 tables x 366 days (1,098 partitions, ``--rows`` rows each, real
canonical parquet from the demo generator) in a temporary data directory,
then times :func:`issue_certificate` (gate, re-hash, build, sign, write) and
:func:`verify_certificate` (signature, completeness, re-hash). Prints seconds.

    .venv/bin/python bench/certificate_bench.py [--rows 100] [--days 366] [--keep DIR]

The layout is written directly (same paths and sidecars as ``StagingStore.publish``,
without its per-file fsyncs) so that building the fixture does not dominate the run;
``--publish`` uses the store's own publish path instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlx_tui.certificate import issue_certificate, verify_certificate
from rlx_tui.partitions import Request
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.demo.synth import generate
from rlx_tui.staging import DATA_FILE, SIDECAR, PartitionManifest, SourceInfo, StagingStore, Zone, utc_now_iso
from rlx_tui.validation.findings import Finding

SOURCE = SourceInfo(name="demo", endpoint="http://127.0.0.1:0", bucket="demo.crypto.lake", synthetic=True)
TABLES = ("trades", "book", "book_delta_v2")
THRESHOLDS = {"max_gap_s": {"book": 60, "book_delta_v2": 60, "trades": 600}, "crossed_max_fraction": 0.0001}


def no_range_findings(expected: object, ready: object, missing_at_source: object) -> list[Finding]:
    """Stand-in for the cross-day validator, so the figures measure the certificate alone."""
    return []


def build(data_dir: Path, request: Request, rows: int, publish: bool) -> None:
    """Write one real parquet file and sidecar per partition into ``ready``."""
    store = StagingStore(data_dir)
    store.ensure_layout()
    for key in request.partitions():
        table = to_canonical(
            key.table, generate(key.table, key.exchange, key.symbol, key.day, rows), key.exchange, key.symbol
        )
        sink = io.BytesIO()
        pq.write_table(table, sink)
        data = sink.getvalue()
        origin = table.column("origin_time").cast("int64")
        manifest = PartitionManifest(
            key=key,
            zone=Zone.READY,
            source=SOURCE,
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            rows=table.num_rows,
            rows_fetched=table.num_rows,
            first_ns=pc.min(origin).as_py(),
            last_ns=pc.max(origin).as_py(),
            attempts=1,
            checks_run=("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"),
            thresholds=THRESHOLDS,
            fetched_at=utc_now_iso(),
            validated_at=utc_now_iso(),
        )
        if publish:
            attempt = store.new_attempt_dir(key)
            (attempt / DATA_FILE).write_bytes(data)
            store.publish(attempt, manifest)
        else:
            directory = store.partition_dir(Zone.READY, key)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / DATA_FILE).write_bytes(data)
            (directory / SIDECAR).write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100, help="rows per partition (default 100)")
    parser.add_argument("--days", type=int, default=366, help="days in the request (default 366)")
    parser.add_argument("--publish", action="store_true", help="build through StagingStore.publish")
    parser.add_argument("--keep", type=Path, help="build in this directory and keep it")
    args = parser.parse_args()

    start = dt.date(2024, 1, 1)
    request = Request(TABLES, ("BINANCE",), ("BTC-USDT",), start, start + dt.timedelta(days=args.days - 1))
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="rlx-cert-bench-"))
    try:
        t0 = time.perf_counter()
        build(data_dir, request, args.rows, args.publish)
        built = time.perf_counter() - t0
        n = len(request.partitions())
        print(f"built {n} partitions ({args.rows} rows each) in {built:.2f} s")
        for label, rehash in (("issue (rehash=True)", True), ("issue (rehash=False)", False)):
            t0 = time.perf_counter()
            cert = issue_certificate(data_dir, request, SOURCE, rehash=rehash, range_checks=no_range_findings)
            print(
                f"{label:22s} {time.perf_counter() - t0:6.2f} s  {cert.partitions} partitions, "
                f"{cert.total_bytes / 1e6:.1f} MB, {cert.json_path.stat().st_size / 1e3:.0f} kB certificate"
            )
        t0 = time.perf_counter()
        report = verify_certificate(cert.json_path)
        print(
            f"{'verify':22s} {time.perf_counter() - t0:6.2f} s  {report.checked_files} files re-hashed, "
            f"{'PASS' if report.passed else 'FAIL'}"
        )
        if not report.passed:
            print(report.text())
            raise SystemExit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
