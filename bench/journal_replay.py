"""Replay of a detached run's journal into the dashboard's state (target: a 210-partition journal < 300 ms).

    .venv/bin/python bench/journal_replay.py [--partitions 210] [--hours 72] [--repeat 7]

The journal is written by the real :class:`rlx_tui.runs.journal.JournalWriter`
(the host's writer, with its tick compaction) from the engine's real event
types, as a run of ``--partitions`` partitions lasting ``--hours`` would emit
them: the plan, then per partition start, download, validation start and outcome
(every 10th retried once, every 25th quarantined with a finding), the engine's
``Throughput`` tick twice a second (``--tick-interval``) with its 60-value rate
history, and a pause and resume on the way. What is timed, median of
``--repeat``: what a late viewer does, i.e. read the file, decode every line
through the codec, and fold every event into :class:`rlx_tui.tui.state.DashboardState`
(the dashboard's own Textual-free state) and :class:`rlx_tui.runs.summary.RunSummary`.
The baseline, timed in the same script on the same file: ``json.loads`` of every
line and nothing else (the floor any replay pays). Printed: the journal's size,
lines and ticks kept, the replay's median against the 300 ms target, and its
ratio to the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlx_tui.events import (  # noqa: E402
    Downloaded,
    PartitionStarted,
    PartitionState,
    PlannedPartition,
    PlanReady,
    Retrying,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.partitions import PartitionKey  # noqa: E402
from rlx_tui.runs.journal import JournalWriter, read_journal  # noqa: E402
from rlx_tui.runs.summary import RunSummary  # noqa: E402
from rlx_tui.validation.findings import Finding, Severity  # noqa: E402

TARGET_MS = 300.0
TABLES = ("trades", "book", "book_delta_v2")
PARTITION_BYTES = 40_000_000


def partition_keys(count: int) -> list[PartitionKey]:
    """``count`` partitions: three tables of BINANCE BTC-USDT, day after day from 2024-01-01."""
    days = -(-count // len(TABLES))
    keys = [
        PartitionKey(table, "BINANCE", "BTC-USDT", dt.date(2024, 1, 1) + dt.timedelta(days=d))
        for d in range(days)
        for table in TABLES
    ]
    return keys[:count]


def _tick(at: float, done: int, total: int, done_bytes: int, retries: int) -> Throughput:
    history = tuple(1_000_000.0 + (i * 7919 % 100_000) for i in range(60))
    return Throughput(
        at=at,
        bytes_per_s=1_234_567.8,
        rows_per_s=45_678.9,
        history=history,
        done_bytes=done_bytes,
        expected_bytes=total * PARTITION_BYTES,
        done_partitions=done,
        total_partitions=total,
        eta_seconds=3600.0 * (total - done) / max(done, 1),
        in_flight=(("trades/BINANCE/BTC-USDT/2024-01-01", 1, 12.5),),
        retries=retries,
    )


def write_synthetic_journal(
    data_dir: Path, path: Path, partitions: int = 210, hours: float = 72.0, tick_interval: float = 0.5
) -> JournalWriter:
    """Write the journal of a run as described in the module docstring; returns the (closed) writer."""
    writer = JournalWriter(data_dir, path)
    writer.open()
    keys = partition_keys(partitions)
    writer.write_host("opened", run_id="000001-20240101T000000Z", pid=os.getpid(), journal=1, codec=0)
    plan = tuple(PlannedPartition(k, PartitionState.QUEUED, PARTITION_BYTES) for k in keys)
    writer.write_event(
        PlanReady(0.0, plan, partitions, 0, 0, partitions * PARTITION_BYTES, hours * 3600, True)
    )
    duration = hours * 3600.0
    per_partition = duration / partitions
    now, retries = 0.0, 0
    next_tick = tick_interval
    for index, key in enumerate(keys):
        done = index  # partitions finished before this one
        worker = index % 2 + 1
        start = index * per_partition
        end = start + per_partition
        while next_tick < end:  # the engine's ticks while this partition downloads
            if next_tick >= start:
                writer.write_event(_tick(next_tick, done, partitions, done * PARTITION_BYTES, retries))
            next_tick += tick_interval
        now = start
        writer.write_event(PartitionStarted(now, key, worker, 1))
        if index % 10 == 0:
            retries += 1
            writer.write_event(Retrying(now + 1, key, worker, 1, "503 SlowDown from the source", 1.5, 2.0))
            writer.write_event(PartitionStarted(now + 3, key, worker, 2))
        writer.write_event(Downloaded(end - 2, key, worker, PARTITION_BYTES, 2_000_000, per_partition - 2))
        writer.write_event(ValidationStarted(end - 1.5, key, worker))
        if index % 25 == 0:
            finding = Finding(
                "all.max_gap", Severity.ERROR, 901.0, 600.0, f"{key.id}: a gap of 901 s > 600 s"
            )
            writer.write_event(Validated(end - 1, key, "quarantine", (finding,), finding.message, 0, 0))
        else:
            writer.write_event(Validated(end - 1, key, "ready", (), None, PARTITION_BYTES, 2_000_000))
        if index == partitions // 2:
            writer.write_event(RunStateChanged(end, "paused"))
            writer.write_event(RunStateChanged(end + 5, "running"))
    counts = {"ready": partitions - len(keys[::25]), "quarantined": len(keys[::25])}
    writer.write_event(RunFinished(duration, counts, False, retries=retries, seconds=duration))
    writer.write_host("ended", outcome="finished", counts=counts, error=None, passes=1)
    writer.close()
    return writer


def replay_into_dashboard(data_dir: Path, path: Path) -> tuple[int, int]:
    """What a late viewer does; returns (partitions the state holds, entries replayed)."""
    from rlx_tui.tui.state import DashboardState

    read = read_journal(data_dir, path)
    state = DashboardState()
    summary = RunSummary()
    for entry in read.entries:
        summary.add(entry)
        if entry.event is not None:
            state.apply(entry.event)
    return len(state.partitions), len(read.entries)


def json_only(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if json.loads(line))


def timed(function: object, *args: object) -> float:
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partitions", type=int, default=210)
    parser.add_argument("--hours", type=float, default=72.0)
    parser.add_argument("--tick-interval", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rlx-journal-bench-") as tmp:
        data_dir = Path(tmp)
        path = data_dir / "events.jsonl"
        started = time.perf_counter()
        writer = write_synthetic_journal(data_dir, path, args.partitions, args.hours, args.tick_interval)
        wrote = time.perf_counter() - started
        size = path.stat().st_size
        held, lines = replay_into_dashboard(data_dir, path)
        assert held == args.partitions, f"the state holds {held} partitions, not {args.partitions}"
        replays = [timed(replay_into_dashboard, data_dir, path) for _ in range(args.repeat)]
        floors = [timed(json_only, path) for _ in range(args.repeat)]
    replay_ms, floor_ms = statistics.median(replays), statistics.median(floors)
    print(
        f"journal of {args.partitions} partitions over {args.hours:g} h: {lines} lines, "
        f"{size / 1024:.0f} KB, {writer.ticks_kept} of {writer.ticks_kept + writer.ticks_dropped} "
        f"ticks kept (written in {wrote:.1f} s)"
    )
    verdict = "OK" if replay_ms < TARGET_MS else "OVER TARGET"
    print(
        f"replay into DashboardState + RunSummary: median {replay_ms:.1f} ms of {args.repeat} "
        f"(target < {TARGET_MS:.0f} ms: {verdict}); json.loads alone {floor_ms:.1f} ms "
        f"(replay = {replay_ms / floor_ms:.1f} x the parse floor)"
    )
    return 0 if replay_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
