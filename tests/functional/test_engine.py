"""The acquisition engine against the demo lake: real lakeapi, real HTTP, real files."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pyarrow.parquet as pq
import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.engine.run import Engine
from rlx_tui.events import (
    Event,
    PartitionFailed,
    PartitionState,
    PlanReady,
    Retrying,
    RunFinished,
    Validated,
)
from rlx_tui.partitions import Request
from rlx_tui.schemas import to_canonical
from rlx_tui.service import open_workspace
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import DATA_FILE, SIDECAR, Zone
from tests.conftest import DEMO_START, demo_settings


def request_for(days: int, tables: tuple[str, ...] = ("trades", "book"), symbol: str = "BTC-USDT") -> Request:
    return Request(tables, ("BINANCE",), (symbol,), DEMO_START, DEMO_START + dt.timedelta(days=days - 1))


async def run_collecting(
    engine: Engine, request: Request, **kwargs: object
) -> tuple[RunFinished, list[Event]]:
    events: list[Event] = []
    send, receive = anyio.create_memory_object_stream[Event](10_000)

    async def consume() -> None:
        async with receive:
            async for event in receive:
                events.append(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        finished = await engine.run(request, send, **kwargs)  # type: ignore[arg-type]
    return finished, events


def run_engine(lake: DemoLake, data_dir: Path, request: Request, **settings: object) -> tuple:
    engine_kwargs = settings.pop("engine_kwargs", {})
    with open_workspace(demo_settings(lake, data_dir, **settings)) as ws:
        engine = ws.engine(**engine_kwargs)  # type: ignore[arg-type]
        finished, events = anyio.run(lambda: run_collecting(engine, request))
        return finished, events, engine, ws.store


def expected_ready_table(lake: DemoLake, partition_id: str):
    """What the source served for a partition, converted to the ready schema."""
    table, exchange, symbol, _ = partition_id.split("/")
    raw = pq.read_table(io.BytesIO(lake.expected_object_bytes(partition_id)))
    return to_canonical(table, raw, exchange, symbol)


def test_two_tables_five_days_end_ready_with_complete_sidecars(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    finished, events, _, store = run_engine(clean_demo_lake, data_dir, request_for(5))
    assert finished.counts == {"ready": 10}
    assert finished.all_ready
    ready = list(store.iter_zone(Zone.READY))
    assert len(ready) == 10
    for manifest in ready:
        directory = store.partition_dir(Zone.READY, manifest.key)
        sidecar = json.loads((directory / SIDECAR).read_text())
        for field in (
            "partition",
            "source",
            "sha256",
            "bytes",
            "rows",
            "first_time",
            "last_time",
            "attempts",
            "timings",
            "findings",
            "checks_run",
            "thresholds",
            "fetched_at",
            "validated_at",
        ):
            assert sidecar[field] not in (None, "", [], {}) or field == "findings", field
        assert sidecar["source"]["synthetic"] is True
        assert sha256_file(directory / DATA_FILE) == manifest.sha256
        assert (directory / DATA_FILE).stat().st_size == manifest.bytes
        assert pq.ParquetFile(directory / DATA_FILE).metadata.num_rows == manifest.rows
    assert not any(store.tmp_root.iterdir())
    assert any(isinstance(e, PlanReady) and e.to_fetch == 10 for e in events)


def test_transient_503s_are_retried_with_growing_backoff(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(transient_rate=0.2)
    finished, events, engine, _ = run_engine(clean_demo_lake, data_dir, request_for(5))
    assert finished.counts == {"ready": 10}
    retries = [e for e in events if isinstance(e, Retrying)]
    assert retries, "20% of object requests failed, yet no retry was reported"
    assert clean_demo_lake.stats()["injected_503"] >= len(retries)
    for event in retries:
        assert "503" in event.cause or "SlowDown" in event.cause
        assert 0 <= event.delay <= event.ceiling
        assert event.ceiling == pytest.approx(min(0.08, 0.01 * 2 ** (event.attempt - 1)))
    # the ceiling of the full-jitter draw doubles with every attempt of one partition
    by_key: dict[str, list[Retrying]] = {}
    for event in retries:
        by_key.setdefault(event.key.id, []).append(event)
    for series in by_key.values():
        ceilings = [e.ceiling for e in series]
        assert ceilings == sorted(ceilings)
        assert [e.attempt for e in series] == list(range(1, len(series) + 1))
    assert engine.retries == len(retries)


def test_backoff_delays_follow_full_jitter_on_recorded_draws() -> None:
    import random

    from rlx_tui.engine.run import backoff_delay
    from rlx_tui.settings import RetryPolicy

    policy = RetryPolicy(base_seconds=1.0, cap_seconds=20.0, max_attempts=10)
    rng = random.Random(3)
    draws = [backoff_delay(policy, attempt, rng) for attempt in range(1, 9)]
    assert [ceiling for _, ceiling in draws] == [1, 2, 4, 8, 16, 20, 20, 20]
    assert all(0 <= delay <= ceiling for delay, ceiling in draws)
    # full jitter: over many draws the mean is half the ceiling, not the ceiling
    mean = sum(backoff_delay(policy, 4, rng)[0] for _ in range(4000)) / 4000
    assert 3.6 < mean < 4.4


def test_rejected_credentials_fail_fast_without_retries(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    settings = demo_settings(clean_demo_lake, data_dir)
    request = request_for(3)
    with open_workspace(settings) as ws:
        listing = ws.listing(request)
        clean_demo_lake.set_faults(deny_all=True)
        engine = ws.engine()
        finished, events = anyio.run(lambda: run_collecting(engine, request, listing=listing))
    assert finished.fatal is not None
    assert "refused the credentials" in finished.fatal
    assert finished.fatal_kind == "access denied"
    assert not [e for e in events if isinstance(e, Retrying)]
    failed = [e for e in events if isinstance(e, PartitionFailed)]
    assert 1 <= len(failed) <= 2  # the partitions in flight, then the run stops
    assert finished.seconds < 20


def test_listing_with_rejected_credentials_says_why(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(deny_all=True)
    finished, _events, _, _ = run_engine(clean_demo_lake, data_dir, request_for(2), retry_attempts=2)
    assert finished.fatal_kind == "access denied"
    assert "aws_access_key_id" in (finished.fatal or "")


def test_a_missing_day_is_reported_not_retried(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(missing=("trades/BINANCE/BTC-USDT/2024-01-03",))
    finished, events, _, _store = run_engine(clean_demo_lake, data_dir, request_for(4))
    assert finished.counts == {"ready": 7, "missing at source": 1}
    plan = next(e for e in events if isinstance(e, PlanReady))
    missing = [p for p in plan.partitions if p.state is PartitionState.MISSING]
    assert [p.key.id for p in missing] == ["trades/BINANCE/BTC-USDT/2024-01-03"]
    assert not [e for e in events if isinstance(e, Retrying)]


@pytest.mark.parametrize("workers", [1, 2])
def test_never_more_partitions_in_flight_than_workers(
    clean_demo_lake: DemoLake, data_dir: Path, workers: int
) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.05)
    finished, _, engine, _ = run_engine(clean_demo_lake, data_dir, request_for(3), workers=workers)
    assert finished.counts == {"ready": 6}
    assert engine.max_in_flight == workers  # reached, never exceeded


def test_corrupt_object_is_quarantined_and_the_run_goes_on(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(corrupt=("book/BINANCE/BTC-USDT/2024-01-02",))
    finished, events, _, store = run_engine(clean_demo_lake, data_dir, request_for(3))
    assert finished.counts == {"ready": 5, "quarantined": 1}
    quarantined = store.status().quarantined
    assert [k.id for k, _ in quarantined] == ["book/BINANCE/BTC-USDT/2024-01-02"]
    reason = quarantined[0][1]
    assert "book BINANCE BTC-USDT 2024-01-02" in reason
    assert any(isinstance(e, Validated) and e.zone == "quarantine" for e in events)


@pytest.mark.parametrize("mode", ["load", "stream"])
@pytest.mark.parametrize("fault", ["empty", "zero_rows"])
def test_an_empty_object_is_quarantined_never_missing_at_source(
    clean_demo_lake: DemoLake, data_dir: Path, fault: str, mode: str
) -> None:
    """A listed object of 0 bytes (lakeapi drops it silently) or 0 rows: one verdict on both paths."""
    pid = "trades/BINANCE/BTC-USDT/2024-01-02"
    clean_demo_lake.set_faults(**{fault: [pid]})
    request = request_for(3, tables=("trades",))
    finished, events, _, store = run_engine(clean_demo_lake, data_dir, request, fetch_mode=mode)
    assert finished.counts == {"ready": 2, "quarantined": 1}
    ((key, reason),) = store.status().quarantined
    assert key.id == pid
    assert "empty object at source" in reason and "missing" not in reason
    assert ("is 0 bytes" if fault == "empty" else "holds no rows") in reason
    assert not [e for e in events if isinstance(e, PartitionFailed | Retrying)]


def test_corrupt_object_on_the_streaming_path_keeps_the_evidence(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    clean_demo_lake.set_faults(corrupt=("book_delta_v2/BINANCE/BTC-USDT/2024-01-01",))
    request = request_for(1, tables=("book_delta_v2",))
    finished, _, _, store = run_engine(clean_demo_lake, data_dir, request)
    assert finished.counts == {"quarantined": 1}
    manifest = next(store.iter_zone(Zone.QUARANTINE))
    assert "not readable parquet" in (manifest.quarantine_reason or "")
    kept = list(store.partition_dir(Zone.QUARANTINE, manifest.key).glob("unreadable-*"))
    assert len(kept) == 1


def test_dry_run_reports_the_plan_and_creates_no_files(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    settings = demo_settings(clean_demo_lake, data_dir)
    with open_workspace(settings) as ws:
        engine = ws.engine()
        finished, events = anyio.run(lambda: run_collecting(engine, request_for(3), dry_run=True))
    plan = next(e for e in events if isinstance(e, PlanReady))
    assert plan.to_fetch == 6
    assert finished.counts == {"queued": 6}
    assert not (data_dir / "staging").exists()
    assert not list(data_dir.rglob("*.parquet"))
    assert clean_demo_lake.stats()["object_gets"].keys() <= {
        k for k in clean_demo_lake.stats()["object_gets"] if k.endswith("contents.json.gz")
    }


def test_second_run_fetches_nothing_already_ready(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    first, _, _, _ = run_engine(clean_demo_lake, data_dir, request_for(2))
    assert first.counts == {"ready": 4}
    gets_before = dict(clean_demo_lake.stats()["object_gets"])
    second, _events, engine, _ = run_engine(clean_demo_lake, data_dir, request_for(3))
    assert second.counts == {"ready": 6}
    assert len(engine.fetched) == 2
    gets_after = clean_demo_lake.stats()["object_gets"]
    parquet_before = {key: count for key, count in gets_before.items() if key.endswith(".parquet")}
    assert len(parquet_before) >= 4  # the first run's objects were counted (at least one per partition)
    for key, count in parquet_before.items():
        assert gets_after[key] == count, f"{key} fetched again"


def test_ready_files_hold_exactly_what_the_source_served(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    _, _, _, store = run_engine(
        clean_demo_lake, data_dir, request_for(1, tables=("trades", "book", "book_delta_v2"))
    )
    manifests = list(store.iter_zone(Zone.READY))
    assert len(manifests) == 3  # one day of each table
    for manifest in manifests:
        ready = pq.read_table(store.data_path(Zone.READY, manifest.key))
        assert ready.equals(expected_ready_table(clean_demo_lake, manifest.key.id)), manifest.key.id


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB filesystem (tmpfs) to fill up: a real ENOSPC, not a simulated one."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_preflight_refuses_with_the_missing_amount(clean_demo_lake: DemoLake, small_disk: Path) -> None:
    with open_workspace(demo_settings(clean_demo_lake, small_disk / "data")) as ws:
        request = request_for(5)
        engine = ws.engine()
        finished, _events = anyio.run(lambda: run_collecting(engine, request))
    assert finished.fatal_kind == "disk full"
    assert "not enough disk" in (finished.fatal or "") and "missing" in (finished.fatal or "")
    assert not list((small_disk / "data").rglob("*.parquet"))


def test_a_disk_filling_up_stops_the_run_and_keeps_ready_files(
    clean_demo_lake: DemoLake, small_disk: Path
) -> None:
    request = request_for(6)
    with open_workspace(demo_settings(clean_demo_lake, small_disk / "data", workers=1)) as ws:
        engine = ws.engine(force_disk=True)
        finished, events = anyio.run(lambda: run_collecting(engine, request))
        ready = list(ws.store.iter_zone(Zone.READY))
        store = ws.store
    assert finished.fatal_kind == "disk full", finished
    assert "no space left" in (finished.fatal or "")
    failed = [e for e in events if isinstance(e, PartitionFailed)]
    assert len(failed) == 1 and failed[0].kind == "disk full"
    assert 1 <= len(ready) < 12
    for manifest in ready:
        assert sha256_file(store.data_path(Zone.READY, manifest.key)) == manifest.sha256
    assert not [p for p in store.tmp_root.rglob("*") if p.is_file()]


def test_abandoned_fetches_never_exceed_the_worker_count(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    """A deadline abandons a fetch thread; it keeps its transfer slot until it really ends."""
    clean_demo_lake.set_faults(slow_seconds=0.6)
    finished, events, engine, _ = run_engine(
        clean_demo_lake, data_dir, request_for(2), fetch_timeout=0.25, retry_attempts=2
    )
    assert any(isinstance(e, Retrying) and "deadline" in e.cause for e in events)
    assert 1 <= engine.max_active_transfers <= 2
    assert finished.counts.get("failed", 0) >= 1
    assert not [p for p in data_dir.rglob("*.parquet") if "ready" in p.parts]


def test_a_crash_between_sidecar_and_rename_is_recovered(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    """Simulate the crash window of a zone move: the sidecar says ready, the files are still in validating."""
    first, _, _, store = run_engine(clean_demo_lake, data_dir, request_for(1, tables=("trades",)))
    assert first.counts == {"ready": 1}
    manifest = next(store.iter_zone(Zone.READY))
    ready_dir = store.partition_dir(Zone.READY, manifest.key)
    stranded = store.partition_dir(Zone.VALIDATING, manifest.key)
    stranded.parent.mkdir(parents=True, exist_ok=True)
    ready_dir.rename(stranded)  # the sidecar inside still says "ready"
    assert store.status().zones[Zone.READY].partitions == 0
    assert store.status().zones[Zone.VALIDATING].partitions == 1

    def parquet_gets() -> int:
        return sum(n for k, n in clean_demo_lake.stats()["object_gets"].items() if k.endswith(".parquet"))

    gets_before = parquet_gets()
    second, _events, engine, _ = run_engine(clean_demo_lake, data_dir, request_for(1, tables=("trades",)))
    assert second.counts == {"ready": 1}
    assert engine.fetched == []  # re-validated, not downloaded again
    assert parquet_gets() == gets_before
    assert sha256_file(store.data_path(Zone.READY, manifest.key)) == manifest.sha256


def test_a_second_process_on_the_same_data_directory_is_refused(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    from rlx_tui.staging import StagingStore

    holder = StagingStore(data_dir)
    with holder.lock():
        finished, _, engine, _ = run_engine(clean_demo_lake, data_dir, request_for(1))
    assert finished.fatal_kind == "busy"
    assert "another rlx-tui is working" in (finished.fatal or "")
    assert engine.fetched == []
