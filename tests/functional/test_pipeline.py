"""The two-stage pipeline against the demo lake: fetching goes on while validation runs beside it.

A probe around the real source records every fetch call (the real lakeapi
fetch still runs), and a validator that is the real one plus a delay records
every validation, both on the engine's clock; the assertions are about those
records, the events and the files on disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.engine.run import Engine
from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    RecoveryDone,
    RunFinished,
    Validated,
    ValidationStarted,
)
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.service import open_workspace
from rlx_tui.sources.base import FetchResult, Source
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import SourceInfo, StagingStore, Zone
from rlx_tui.validation import validate_partition
from rlx_tui.validation.findings import PartitionReport
from tests.conftest import demo_settings
from tests.functional.test_engine import request_for, small_disk  # noqa: F401  (small_disk is a fixture)

Span = tuple[str, float, float]  # partition id, start, end (time.monotonic)


@dataclass
class FetchProbe:
    """Wraps the real source: records each fetch call and how many ran at once."""

    source: Source
    spans: list[Span] = field(default_factory=list)
    running: int = 0
    most_running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def info(self) -> SourceInfo:
        return self.source.info

    def __getattr__(self, name: str) -> Any:  # everything else is the real source's
        return getattr(self.source, name)

    def fetch(
        self, key: PartitionKey, objects: tuple, dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        start = time.monotonic()
        try:
            return self.source.fetch(key, objects, dest_dir, cancel)
        finally:
            with self._lock:
                self.running -= 1
            self.spans.append((key.id, start, time.monotonic()))


@dataclass
class SlowValidator:
    """The real validator, ``delay`` seconds slower; records each validation.

    With ``release``, each validation also waits until that event is set (at most a minute),
    so a test can hold the first validation until something has happened, whatever the load.
    """

    delay: float
    release: threading.Event | None = None
    spans: list[Span] = field(default_factory=list)

    def __call__(self, path: Path, key: PartitionKey, **kwargs: Any) -> PartitionReport:
        start = time.monotonic()
        time.sleep(self.delay)
        if self.release is not None:
            self.release.wait(timeout=60)
        report = validate_partition(path, key, **kwargs)
        self.spans.append((key.id, start, time.monotonic()))
        return report


def run_pipeline(
    lake: DemoLake,
    data_dir: Path,
    request: Request,
    *,
    delay: float,
    on_event: Callable[[Engine, Event], None] | None = None,
    settings: dict[str, object] | None = None,
    release: threading.Event | None = None,
    **engine_kwargs: object,
) -> tuple[RunFinished, list[Event], Engine, FetchProbe, SlowValidator]:
    """One engine run with a fetch probe and a slow validator; ``on_event`` sees each event as it comes."""
    validator = SlowValidator(delay, release)
    with open_workspace(demo_settings(lake, data_dir, **(settings or {}))) as ws:
        probe = FetchProbe(ws.source)
        options: dict[str, object] = {"workers": ws.settings.workers, "retry": ws.settings.retry}
        options.update(engine_kwargs)
        engine = Engine(probe, ws.store, validator=validator, **options)  # type: ignore[arg-type]
        events: list[Event] = []

        async def main() -> RunFinished:
            send, receive = anyio.create_memory_object_stream[Event](10_000)

            async def consume() -> None:
                async with receive:
                    async for event in receive:
                        events.append(event)
                        if on_event is not None:
                            on_event(engine, event)

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                return await engine.run(request, send)

        finished = anyio.run(main)
    return finished, events, engine, probe, validator


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at any instant."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_one_worker_fetches_the_next_partition_while_the_first_validates(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    finished, events, _, probe, validator = run_pipeline(
        clean_demo_lake, data_dir, request_for(2), delay=1.0, settings={"workers": 1}
    )
    assert finished.counts == {"ready": 4}
    assert probe.most_running == 1
    (first_id, _, first_fetched), (second_id, second_start, _) = sorted(probe.spans, key=lambda s: s[1])[:2]
    validated_id, _, validation_end = min(validator.spans, key=lambda s: s[1])
    # the single transfer slot took the next partition as soon as the first was handed over, while
    # the first one was still being validated (1 s), instead of after its validation
    assert validated_id == first_id
    assert first_fetched <= second_start < validation_end, (validator.spans, probe.spans)
    # and the events say so too, in the order a user reads them
    downloaded_at = next(e.at for e in events if isinstance(e, Downloaded) and e.key.id == first_id)
    validated_at = next(e.at for e in events if isinstance(e, Validated) and e.key.id == first_id)
    started_at = next(e.at for e in events if isinstance(e, PartitionStarted) and e.key.id == second_id)
    assert downloaded_at < started_at < validated_at
    assert validated_at - started_at > 0.5  # well inside the validation, not a near miss
    assert all(e.worker == 1 for e in events if isinstance(e, PartitionStarted | ValidationStarted))


@pytest.mark.parametrize("workers", [1, 2])
def test_transfers_never_exceed_the_worker_count_while_validation_runs_beside_them(
    clean_demo_lake: DemoLake, data_dir: Path, workers: int
) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.1)  # fetches long enough to overlap
    finished, events, engine, probe, validator = run_pipeline(
        clean_demo_lake, data_dir, request_for(4), delay=0.3, settings={"workers": workers}
    )
    assert finished.counts == {"ready": 8}
    assert probe.most_running == workers  # reached, never exceeded
    assert engine.max_active_transfers == workers
    assert most_at_once([(s, e) for _, s, e in validator.spans]) == 1  # one validator by default here
    fetch_windows = [(s, e) for _, s, e in probe.spans]
    overlapping = [v for v in validator.spans if any(s < v[2] and v[1] < e for s, e in fetch_windows)]
    assert overlapping, "no validation ran while a fetch was under way"
    # the worker named in the events is the transfer slot that fetched the partition
    fetched_by = {e.key: e.worker for e in events if isinstance(e, Downloaded)}
    for event in events:
        if isinstance(event, ValidationStarted):
            assert event.worker == fetched_by[event.key]
    stages = finished.stages
    assert [slot["slot"] for slot in stages["transfer"]] == list(range(1, workers + 1))
    assert sum(slot["partitions"] for slot in stages["transfer"]) == 8
    assert sum(slot["partitions"] for slot in stages["validation"]) == 8


def test_downloads_pause_when_validation_falls_behind(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    """With a validator much slower than the fetches, unvalidated partitions stay within the limit."""
    finished, _, engine, probe, validator = run_pipeline(
        clean_demo_lake, data_dir, request_for(4), delay=0.4, settings={"workers": 2}
    )
    assert finished.counts == {"ready": 8}
    taken = {pid: start for pid, start, _ in validator.spans}
    # A partition holds a place from before its fetch starts until a validator takes it, a moment
    # before the validator's own record starts: so at most one measured span per validator runs
    # past its place, and the measured figure may exceed the limit by that one.
    held = [(start, taken[pid]) for pid, start, _ in probe.spans]
    limit = engine.handoff_partitions
    assert limit == 4 and engine.validators == 1
    assert limit <= most_at_once(held) <= limit + 1
    assert engine.handoff is not None and engine.handoff.most_held == limit
    # the slots did wait: 8 fast fetches would otherwise all be done before the 3rd validation
    third_validation = sorted(taken.values())[2]
    assert sum(1 for _, start, _ in probe.spans if start > third_validation) >= 1


def partitions_on_disk(store: StagingStore, zone: Zone) -> dict[str, str]:
    """Partition id -> recorded sha256 of every partition in ``zone``."""
    return {m.key.id: m.sha256 or "" for m in store.iter_zone(zone)}


def test_abort_abandons_the_fetch_in_flight_and_keeps_fetched_partitions_for_recovery(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    started: list[str] = []
    # the first validation is held until the abort, so it is under way when the abort comes
    # however slowly the machine runs the fetches
    abort_sent = threading.Event()

    def abort_at_third_start(engine: Engine, event: Event) -> None:
        if isinstance(event, PartitionStarted) and event.key.id not in started:
            started.append(event.key.id)
            if len(started) == 3:
                engine.stop(abort=True)
                abort_sent.set()

    clean_demo_lake.set_faults(slow_seconds=0.5)  # the third fetch is still in flight when aborted
    finished, events, _, _, validator = run_pipeline(
        clean_demo_lake,
        data_dir,
        request_for(3),
        delay=0.0,
        on_event=abort_at_third_start,
        settings={"workers": 1},
        release=abort_sent,
    )
    assert finished.stopped and finished.fatal is None
    first, second, third = started
    with open_workspace(demo_settings(clean_demo_lake, data_dir)) as ws:
        store = ws.store
        ready = partitions_on_disk(store, Zone.READY)
        raw = partitions_on_disk(store, Zone.RAW)
        # the validation under way when the abort came finished and filed its partition
        assert list(ready) == [first]
        assert [v[0] for v in validator.spans] == [first]
        # the partition fetched but not yet validated waits in raw, intact
        assert list(raw) == [second]
        manifest = store.find(PartitionKey.from_id(second))
        assert manifest is not None and sha256_file(store.data_path(Zone.RAW, manifest.key)) == raw[second]
        # the fetch in flight was abandoned and left nothing behind
        assert store.find(PartitionKey.from_id(third)) is None
        assert not [p for p in store.tmp_root.rglob("*") if p.is_file()]
    assert not any(isinstance(e, Validated) and e.key.id in (second, third) for e in events)

    # the next start re-validates the partition left in raw instead of downloading it again
    clean_demo_lake.reset()
    again, events2, _, probe2, _ = run_pipeline(clean_demo_lake, data_dir, request_for(3), delay=0.0)
    assert again.counts == {"ready": 6}
    recovery = next(e for e in events2 if isinstance(e, RecoveryDone))
    assert recovery.revalidated == 1
    fetched_again = {pid for pid, _, _ in probe2.spans}
    assert first not in fetched_again and second not in fetched_again
    assert third in fetched_again


def test_stop_lets_the_fetch_in_flight_finish_and_validates_everything_fetched(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    started: list[str] = []

    def stop_at_third_start(engine: Engine, event: Event) -> None:
        if isinstance(event, PartitionStarted) and event.key.id not in started:
            started.append(event.key.id)
            if len(started) == 3:
                engine.stop()

    clean_demo_lake.set_faults(slow_seconds=0.3)
    finished, events, _, probe, _ = run_pipeline(
        clean_demo_lake,
        data_dir,
        request_for(3),
        delay=1.0,
        on_event=stop_at_third_start,
        settings={"workers": 1},
    )
    assert finished.stopped
    assert finished.counts == {"ready": 3, "queued": 3}
    assert sorted(pid for pid, _, _ in probe.spans) == sorted(started)
    validated = [e.key.id for e in events if isinstance(e, Validated) and e.zone == "ready"]
    assert validated == started


def test_a_full_disk_stops_the_pipeline_and_loses_nothing_fetched(
    clean_demo_lake: DemoLake,
    small_disk: Path,  # noqa: F811
) -> None:
    finished, events, engine, probe, _ = run_pipeline(
        clean_demo_lake,
        small_disk / "data",
        request_for(6),
        delay=0.2,
        settings={"workers": 2},
        force_disk=True,
    )
    assert finished.fatal_kind == "disk full", finished
    assert "no space left" in (finished.fatal or "")
    failed = [e for e in events if isinstance(e, PartitionFailed)]
    assert failed and all(e.kind == "disk full" for e in failed)
    assert probe.most_running <= 2
    downloaded = {e.key.id for e in events if isinstance(e, Downloaded)}
    failed_ids = {e.key.id for e in failed}
    validation_started = {e.key.id for e in events if isinstance(e, ValidationStarted)}
    # read the store directly: opening a workspace writes (endpoint config), which the full disk refuses
    store = StagingStore(small_disk / "data")
    ready = partitions_on_disk(store, Zone.READY)
    kept = {**partitions_on_disk(store, Zone.RAW), **partitions_on_disk(store, Zone.VALIDATING)}
    assert 1 <= len(ready) < 12
    for pid, sha in ready.items():
        assert sha256_file(store.data_path(Zone.READY, PartitionKey.from_id(pid))) == sha
    # every partition fetched and published is ready, or waits in raw/validating for the next
    # start (one that failed only while being validated included); only a fetch or publish that
    # failed on the full disk left nothing
    assert downloaded - failed_ids <= set(ready) | set(kept), downloaded - set(ready) - set(kept)
    assert failed_ids & validation_started <= set(kept)
    assert not [p for p in store.tmp_root.rglob("*") if p.is_file()]
    assert engine.active_transfers == 0
