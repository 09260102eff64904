"""The realistic demo profile: what it serves, both fetch paths per table, and a week through the engine."""

from __future__ import annotations

import collections
import datetime as dt
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.certificate import CertificateRefused, issue_certificate
from rlx_tui.partitions import LAKE_TABLES, ObjectRef, PartitionKey, Request, parse_object_key
from rlx_tui.service import open_workspace
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.demo.layout import PLANTED_DEFECTS, PREFIX
from rlx_tui.sources.lake import LakeSource
from rlx_tui.staging import Zone
from rlx_tui.validation import validate_partition
from tests.conftest import realistic_settings


def served(lake: DemoLake) -> dict[PartitionKey, list[ObjectRef]]:
    """Every object the lake serves, read with the S3 API and parsed strictly (in key order)."""
    client = lake.session().client("s3")
    objects: dict[PartitionKey, list[ObjectRef]] = collections.defaultdict(list)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="qnt.data"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                key, name = parse_object_key(item["Key"], PREFIX)
                objects[key].append(ObjectRef(item["Key"], name, item["Size"], item["ETag"].strip('"')))
    return objects


def test_the_realistic_profile_serves_what_the_real_service_has(realistic_lake: DemoLake) -> None:
    objects = served(realistic_lake)
    assert {k.table for k in objects} == set(LAKE_TABLES)  # every table lakeapi names
    exchanges = {k.exchange for k in objects}
    assert {"BINANCE", "BINANCE_FUTURES", "COINBASE", "KUCOIN", "SERUM", "ASCENDEX"} <= exchanges
    symbols = {(k.exchange, k.symbol) for k in objects}
    assert ("BINANCE_FUTURES", "BTC-USDT-PERP") in symbols  # perpetuals
    assert {("COINBASE", "BTC-USD"), ("COINBASE", "BTC-USDT")} <= symbols  # a prefix of another symbol
    assert {("SERUM", "stSOL-USDC"), ("SERUM", "mSOL-USDC")} <= symbols  # lower case, lstrip's victims
    split = [refs for refs in objects.values() if len(refs) > 1]
    assert split and all(not r.filename.startswith(("1.", "2.")) for refs in split for r in refs)  # random


def test_snapshot_rows_and_milliseconds_are_in_the_raw_objects(realistic_lake: DemoLake) -> None:
    """The demo stores what the real service stores: KuCoin origin times in ms, days opening with
    a snapshot block whose origin time is 0, book columns in Crypto Lake's order."""
    client = realistic_lake.session().client("s3")

    def raw(pid: str, name: str = "1") -> pa.Table:
        body = client.get_object(Bucket="qnt.data", Key=realistic_lake.object_key(pid, name))["Body"].read()
        return pq.read_table(io.BytesIO(body))

    kucoin = raw("book_delta_v2/KUCOIN/BTC-USDT/2024-01-02")
    stamps = kucoin.column("timestamp").to_pylist()
    assert stamps[:40] == [0] * 40 and 1.7e12 < stamps[40] < 1.8e12  # snapshot, then milliseconds
    assert kucoin.column_names[:3] == ["timestamp", "receipt_timestamp", "sequence_number"]
    book = raw("book/BINANCE/BTC-USDT/2024-01-02")
    assert book.column_names[3:7] == ["bid_0_price", "bid_0_size", "bid_1_price", "bid_1_size"]
    thin = raw("book/ASCENDEX/FTRB-USDT/2024-01-02").column("bid_19_price")
    assert thin.null_count + sum(1 for v in thin.to_pylist() if v != v) > 0.9 * len(thin)  # deep levels empty


@pytest.fixture
def source(realistic_lake: DemoLake, tmp_path: Path) -> Iterator[LakeSource]:
    with open_workspace(realistic_settings(realistic_lake, tmp_path / "data")) as ws:
        yield ws.source  # type: ignore[misc]


def test_every_table_gives_the_same_ready_file_on_both_paths(
    realistic_lake: DemoLake, source: LakeSource, tmp_path: Path
) -> None:
    """One day of every stream (split days with random names included), load_data against streaming."""
    day = dt.date(2024, 1, 2)
    objects = served(realistic_lake)
    source.list_partitions(LAKE_TABLES[:1], day, day, ["BTC-USDT"], ["BINANCE"])  # fresh lakeapi caches
    tables_seen = set()
    for stream in realistic_lake.config.streams:
        key = PartitionKey(stream.table, stream.exchange, stream.symbol, day)
        digests = {}
        for mode in ("load", "stream"):
            dest = tmp_path / f"{key.id.replace('/', '_')}-{mode}"
            dest.mkdir(parents=True)
            source.fetch_mode = mode
            result = source.fetch(key, tuple(objects[key]), dest, threading.Event())
            digests[mode] = sha256_file(result.path)
        assert digests["load"] == digests["stream"], key.id
        report = validate_partition(result.path, key, expected_rows=result.rows_fetched)
        assert report.ok, report.reason
        tables_seen.add(key.table)
    assert tables_seen == set(LAKE_TABLES)


REASONS = {  # what a user must read for each planted defect
    "corrupt": "readable",  # "not readable parquet" (streaming) or "unreadable object" (lakeapi)
    "empty": "empty object at source",
    "zero_rows": "empty object at source",
    "empty_part": "empty object at source",
    "outage": "without data inside the day",
    "units": "fit no single time unit",
}


def test_a_week_of_every_table_and_exchange_quarantines_only_the_planted_defects(
    realistic_lake: DemoLake, tmp_path: Path
) -> None:
    """The engine over 7 days of every stream: everything ready but the defects planted on purpose,
    each with its own reason; every group without a defect certifies, thin markets with warnings.

    Runs on the streaming path (4x faster than lakeapi's load_data here); the test above proves
    both paths write the same files.
    """
    config = realistic_lake.config
    groups: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for stream in config.streams:
        groups[(stream.exchange, stream.symbol)].append(stream.table)
    requests = [
        Request(tuple(tables), (exchange,), (symbol,), config.start, config.end)
        for (exchange, symbol), tables in groups.items()
    ]
    settings = realistic_settings(realistic_lake, tmp_path / "data", fetch_mode="stream")
    with open_workspace(settings) as ws:
        for request in requests:
            finished = anyio.run(ws.engine().run, request)
            assert not finished.fatal and set(finished.counts) <= {"ready", "quarantined"}, finished
        quarantined = {m.key.id: m.quarantine_reason or "" for m in ws.store.iter_zone(Zone.QUARANTINE)}
        assert set(quarantined) == config.planted_quarantine()
        planted = {
            PartitionKey(t, e, s, config.start + dt.timedelta(days=o)).id: kind
            for kind, t, e, s, o, _ in PLANTED_DEFECTS
        }
        for pid, reason in quarantined.items():
            assert REASONS[planted[pid]] in reason, (pid, reason)
            assert "missing at source" not in reason
        ready = list(ws.store.iter_zone(Zone.READY))
        assert len(ready) + len(quarantined) == len(config.partition_ids())
        warned = {m.key.table for m in ready if m.findings}
        assert {"liquidations", "level_1"} <= warned  # quiet streams: ready, with warnings
        statuses = {}
        for request in requests:
            defects = {k.id for k in request.partitions()} & set(quarantined)
            try:
                issued = issue_certificate(ws.data_dir, request, ws.source.info, rehash=False)
            except CertificateRefused as refused:
                assert defects and {b.partition_id for b in refused.blockers} == defects
                continue
            assert not defects
            statuses[(request.exchanges[0], request.symbols[0])] = issued.status
        assert statuses[("ASCENDEX", "FTRB-USDT")] == "WARNED"  # a thin market certifies, with warnings
        assert statuses[("BINANCE_FUTURES", "ETH-USDT-PERP")] == "PASSED"  # old ns funding files
        assert ("SERUM", "mSOL-USDC") in statuses and ("COINBASE", "BTC-USDT") in statuses
