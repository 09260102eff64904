"""The acquisition engine: a two-stage pipeline with at most two downloads at once, events out.

Fetch stage: ``workers`` (1 or 2) transfer slots. A slot reserves room in the
hand-off to validation, takes the next partition, fetches it (in a thread that
holds a transfer slot, into a private attempt directory, under a deadline),
publishes it to ``raw``, hands it over and takes the next partition at once.
Validation stage: ``validators`` tasks (one by default on these 2-core
machines) validate each handed-over partition in a thread and file it in
``ready`` or ``quarantine``. The hand-off is bounded (see ``handoff``), so
downloads pause rather than pile up unvalidated data. Transient failures are
retried with exponential backoff and full jitter; permanent ones end the
partition with a cause; fatal ones (credentials refused, disk full) stop the
run. Everything the outside learns arrives as events on an anyio memory
object stream.

One partition's stages live in :mod:`.stages`, the shared rules (disk margin,
backoff, refusals) in :mod:`.policy`.

One file because a run's lifecycle (lock, recovery, plan, preflight, pipeline, summary) is one
sequence over the Engine's shared state, and reads best as one piece.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream

from rlx_tui.engine.busy import TRANSFER, VALIDATION, StageClock, describe_stages
from rlx_tui.engine.filing import Validator
from rlx_tui.engine.handoff import DEFAULT_MAX_BYTES, Fetched, Handoff
from rlx_tui.engine.plan import Plan, PlanError, build_plan, fetch_order
from rlx_tui.engine.policy import (
    DISK_MARGIN,
    RunRefused,
    backoff_delay,
    default_validators,
    disk_needed,
    first_leaf,
    usable_cores,
)
from rlx_tui.engine.rate import RateMeter
from rlx_tui.engine.stages import PartitionStages
from rlx_tui.engine.transfers import TransferSlots
from rlx_tui.events import (
    Event,
    PlannedPartition,
    PlanReady,
    RecoveryDone,
    RunFinished,
    RunStateChanged,
    Throughput,
)
from rlx_tui.kinds import FatalKind, PartitionState, RunState, Zone
from rlx_tui.logs import logger
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.settings import RetryPolicy
from rlx_tui.sources.base import Listing, Source, SourceError, classify
from rlx_tui.staging import PartitionManifest, StagingStore, StoreBusy, free_bytes
from rlx_tui.units import human_bytes
from rlx_tui.validation import DEFAULT_THRESHOLDS, Thresholds, validate_partition

__all__ = ["DISK_MARGIN", "Engine", "RunRefused", "backoff_delay", "default_validators", "usable_cores"]


class Engine(PartitionStages):
    """Turns a request into ready, verified partitions, reporting through events."""

    def __init__(
        self,
        source: Source,
        store: StagingStore,
        *,
        workers: int = 2,
        retry: RetryPolicy | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        validator: Validator = validate_partition,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        tick_seconds: float = 0.5,
        force_disk: bool = False,
        validators: int | None = None,
        handoff_partitions: int | None = None,
        handoff_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """``validators`` defaults to :func:`default_validators`; the hand-off holds at most
        ``handoff_partitions`` (default ``2 * workers``) partitions being fetched or waiting for
        validation, and about ``handoff_bytes`` of their data."""
        if not 1 <= workers <= 2:
            raise ValueError("workers must be 1 or 2")
        validators = default_validators() if validators is None else validators
        if not 1 <= validators <= usable_cores():
            raise ValueError(f"validators must be between 1 and {usable_cores()} (the cores available)")
        self.validators = validators
        self.handoff_partitions = handoff_partitions or 2 * workers
        self.handoff_bytes = handoff_bytes
        self.source = source
        self.store = store
        self.workers = workers
        self.retry = retry or RetryPolicy()
        self.thresholds = thresholds
        self.validator = validator
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.tick_seconds = tick_seconds
        self.force_disk = force_disk
        # instrumentation, read by tests and the benchmark
        self.in_flight: dict[PartitionKey, tuple[int, float, int]] = {}
        self.max_in_flight = 0
        self.fetched: list[PartitionKey] = []
        self.retries = 0
        self.failures = 0
        # Transfer slots are held by the fetch thread itself, so a call abandoned
        # after a deadline or an abort still counts until it really ends.
        self._transfers = TransferSlots(workers)
        self.stage_clock = StageClock()  # busy/idle per slot, renewed by every run
        self.handoff: Handoff | None = None  # the last run's hand-off (instrumentation)
        # control
        self._unpaused = anyio.Event()
        self._unpaused.set()
        self._stop_requested = anyio.Event()
        self._abort_scope: anyio.CancelScope | None = None
        self._fatal: str | None = None
        self._fatal_kind: FatalKind | None = None
        self._send: MemoryObjectSendStream[Event] | None = None
        self._meter = RateMeter()
        self._states: dict[PartitionKey, PartitionState] = {}
        self._listing: Listing | None = None

    @property
    def active_transfers(self) -> int:
        """Fetch calls running now, abandoned ones included."""
        return self._transfers.active

    @property
    def max_active_transfers(self) -> int:
        """The most fetch calls that ever ran at once."""
        return self._transfers.max_active

    # -- control (call from the event loop's thread) ------------------------------
    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        if not self.paused:
            self._unpaused = anyio.Event()
            self._emit_nowait(RunStateChanged(time.monotonic(), RunState.PAUSED))

    def resume(self) -> None:
        if self.paused:
            self._unpaused.set()
            self._emit_nowait(RunStateChanged(time.monotonic(), RunState.RUNNING))

    def stop(self, abort: bool = False) -> None:
        """Stop taking new partitions; ``abort`` also abandons those in flight (cleaned up)."""
        self._stop_requested.set()
        self._unpaused.set()
        self._emit_nowait(RunStateChanged(time.monotonic(), RunState.STOPPING))
        if abort and self._abort_scope is not None:
            self._abort_scope.cancel()

    # -- planning (blocking: call in a thread) --------------------------------------
    def recover(self) -> tuple[int, list[PartitionManifest]]:
        """Remove temporary files and re-validate partitions left in raw or validating."""
        report = self.store.recover()
        refiled = []
        for key in report.to_revalidate:
            manifest = self.store.find(key)
            if manifest is None or not manifest.has_data:
                continue
            if manifest.zone in (Zone.RAW, Zone.VALIDATING) or manifest.stale_zone:
                refiled.append(self._file(manifest))
        return report.temp_removed, refiled

    def list_source(self, request: Request) -> Listing:
        return self.source.list_partitions(
            request.tables, request.start, request.end, request.symbols, request.exchanges
        )

    def plan(self, request: Request, listing: Listing | None = None) -> Plan:
        """The plan for ``request``; touches nothing on disk."""
        listing = listing if listing is not None else self.list_source(request)
        return build_plan(request, listing, self.store, self.source.info.name, self.workers)

    def quarantined(self, request: Request) -> list[PartitionManifest]:
        """The manifests of the request's quarantined partitions (each sidecar read once)."""
        manifests = (self.store.read_manifest(Zone.QUARANTINE, key) for key in request.partitions())
        return [manifest for manifest in manifests if manifest is not None]

    def requeue_quarantined(self, request: Request) -> int:
        """Remove the request's quarantined partitions so the next plan fetches them again."""
        return self.requeue(self.quarantined(request))

    def requeue(self, manifests: list[PartitionManifest]) -> int:
        """Remove these quarantined partitions (from :meth:`quarantined`); how many were removed."""
        for manifest in manifests:
            self.store.remove(manifest)
        return len(manifests)

    def check_disk(self, plan: Plan) -> None:
        needed = disk_needed(plan.expected_bytes)
        free = free_bytes(self.store.data_dir)
        if needed > free and not self.force_disk:
            raise RunRefused(
                f"not enough disk in {self.store.data_dir}: the plan needs about {human_bytes(needed)}, "
                f"{human_bytes(free)} are free ({human_bytes(needed - free)} missing); "
                "free space, choose another --data-dir, or pass --force",
                FatalKind.DISK_FULL,
            )

    # -- the run ---------------------------------------------------------------------
    async def run(
        self,
        request: Request,
        events: MemoryObjectSendStream[Event] | None = None,
        *,
        retry_quarantined: bool = False,
        dry_run: bool = False,
        listing: Listing | None = None,
    ) -> RunFinished:
        """Acquire every partition of ``request``. Returns (and emits) the RunFinished event.

        ``listing`` (from a caller that already listed the source) saves one listing.
        """
        self._send = events
        self._listing = listing
        started = time.monotonic()
        try:
            if dry_run:  # touches nothing, so takes no lock either
                finished = await self._run(request, retry_quarantined=False, dry_run=True)
            else:
                with self.store.lock():
                    finished = await self._run(request, retry_quarantined=retry_quarantined, dry_run=False)
        except StoreBusy as exc:
            finished = self._fatal_finish(str(exc), FatalKind.BUSY)
        except RunRefused as exc:
            finished = self._fatal_finish(str(exc), exc.kind)
        except PlanError as exc:
            finished = self._fatal_finish(str(exc), FatalKind.PLAN)
        except SourceError as exc:
            finished = self._fatal_finish(str(exc), FatalKind.of(exc.kind))
        except OSError as exc:
            error = classify(exc, "the data directory")
            finished = self._fatal_finish(error.cause, FatalKind.of(error.kind))
        except BaseExceptionGroup as group:
            first = first_leaf(group)
            if not isinstance(first, Exception):
                raise
            logger.opt(exception=first).error("engine error")
            error = classify(first, "the run")
            finished = self._fatal_finish(error.cause, FatalKind.of(error.kind))
        finished = replace(
            finished,
            retries=self.retries,
            seconds=round(time.monotonic() - started, 3),
            stages=self.stage_clock.summary(),
        )
        if finished.fatal:
            logger.error("run stopped: {}", finished.fatal)
        logger.info("run finished: {} in {:.1f}s", finished.counts, finished.seconds)
        if finished.stages:
            logger.info("pipeline {}", describe_stages(finished.stages))
        # a consumer that stopped reading must not keep the run from returning
        with anyio.move_on_after(5, shield=True):
            await self._emit(finished)
        if events is not None:
            await events.aclose()
        return finished

    def _fatal_finish(self, cause: str, kind: FatalKind) -> RunFinished:
        return RunFinished(
            time.monotonic(), counts=self._count_states(), stopped=False, fatal=cause, fatal_kind=kind
        )

    async def _plan_with_retry(self, request: Request) -> Plan:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await anyio.to_thread.run_sync(self.plan, request, self._listing)
            except SourceError as error:
                if not error.kind.retryable or attempt >= self.retry.max_attempts:
                    raise
                delay, _ = backoff_delay(self.retry, attempt, self._rng)
                logger.warning("listing failed ({}), retrying in {:.1f}s", error.cause, delay)
                await self._sleep_or_stop(delay)
            except (PlanError, RunRefused):
                raise
            except Exception as exc:
                raise classify(exc, "listing") from None

    async def _run(self, request: Request, *, retry_quarantined: bool, dry_run: bool) -> RunFinished:
        if dry_run:
            plan = await self._plan_with_retry(request)
            await self._emit(self._plan_event(plan))
            return RunFinished(time.monotonic(), counts=self._count(plan.items), stopped=False)
        removed, refiled = await anyio.to_thread.run_sync(self.recover)
        await self._emit(RecoveryDone(time.monotonic(), temp_removed=removed, revalidated=len(refiled)))
        if retry_quarantined:
            await anyio.to_thread.run_sync(self.requeue_quarantined, request)
        plan = await self._plan_with_retry(request)
        self._states = {p.key: p.state for p in plan.items}
        await self._emit(self._plan_event(plan))
        await anyio.to_thread.run_sync(self.check_disk, plan)
        queue = fetch_order(plan.to_fetch, {p.key: p.expected_bytes for p in plan.items}, self.workers)
        logger.info(
            "plan: {} partitions, {} to fetch ({:,} bytes expected), {} ready, {} missing at source",
            len(plan.items),
            len(queue),
            plan.expected_bytes,
            len(plan.ready),
            len(plan.missing),
        )
        aborted = await self._pipeline(plan, queue)
        stopped = self._stop_requested.is_set() or aborted
        for key, state in self._states.items():  # abandoned mid-way: to fetch (or recover) next time
            if state in (PartitionState.DOWNLOADING, PartitionState.RETRYING, PartitionState.VALIDATING):
                self._states[key] = PartitionState.QUEUED
        return RunFinished(
            time.monotonic(),
            counts=self._count_states(),
            stopped=stopped and not self._fatal,
            fatal=self._fatal,
            fatal_kind=self._fatal_kind,
        )

    async def _pipeline(self, plan: Plan, queue: list[PartitionKey]) -> bool:
        """Run the fetch stage and the validation stage side by side until ``queue`` is done.

        Returns True if the run was aborted. Stopping lets the fetches in flight
        finish and validates everything fetched; aborting abandons the fetches
        in flight (cleaned up) and leaves partitions fetched but not yet
        validated in ``raw``, where the next start's recovery re-validates them.
        """
        expected = {p.key: p.expected_bytes for p in plan.items}
        total_expected = plan.expected_bytes
        handoff = Handoff(self.handoff_partitions, self.handoff_bytes)
        clock = StageClock()
        self.handoff, self.stage_clock = handoff, clock
        done = anyio.Event()
        done_bytes = 0

        def finish(key: PartitionKey, nbytes: int) -> None:
            nonlocal done_bytes
            done_bytes += nbytes
            expected.pop(key, None)

        async def transfer_slot(slot: int) -> None:
            while True:
                await self._unpaused.wait()
                if self._stop_requested.is_set() or not queue:
                    return
                reservation = await handoff.reserve(expected.get(queue[0], 0))
                if self.paused or self._stop_requested.is_set() or not queue:
                    handoff.release(reservation)
                    continue
                key = queue.pop(0)
                fetched: Fetched | None = None
                try:
                    with clock.busy(TRANSFER, slot):
                        fetched = await self._fetch(key, slot, plan)
                finally:
                    if fetched is None:
                        handoff.release(reservation)
                if fetched is None:
                    finish(key, 0)  # failed, missing, quarantined unread, or back in the queue
                else:
                    handoff.put(reservation, fetched)

        async def validator(number: int) -> None:
            while (item := await handoff.get()) is not None:
                with clock.busy(VALIDATION, number):
                    nbytes = await self._validate(item)
                finish(item.manifest.key, nbytes)

        async def ticker() -> None:
            while not done.is_set():
                now = time.monotonic()
                self._meter.tick(now)
                remaining = sum(expected.get(k, 0) for k in queue) + sum(
                    expected.get(k, 0) for k in self.in_flight
                )
                self._emit_nowait(
                    Throughput(
                        now,
                        bytes_per_s=self._meter.bytes_per_s,
                        rows_per_s=self._meter.rows_per_s,
                        history=tuple(self._meter.history),
                        done_bytes=done_bytes,
                        expected_bytes=total_expected,
                        done_partitions=sum(
                            1
                            for s in self._states.values()
                            if s in (PartitionState.READY, PartitionState.QUARANTINED, PartitionState.FAILED)
                        ),
                        total_partitions=len(self._states),
                        eta_seconds=self._meter.eta(remaining, now),
                        in_flight=tuple(
                            (k.id, w, round(now - t0, 1)) for k, (w, t0, _) in sorted(self.in_flight.items())
                        ),
                        retries=self.retries,
                        failures=self.failures,
                    )
                )
                with anyio.move_on_after(self.tick_seconds):
                    await done.wait()

        aborted = False
        clock.begin({TRANSFER: self.workers, VALIDATION: self.validators})
        async with anyio.create_task_group() as outer:
            outer.start_soon(ticker)
            async with anyio.create_task_group() as validation:
                for number in range(1, self.validators + 1):
                    validation.start_soon(validator, number)
                with anyio.CancelScope() as scope:
                    self._abort_scope = scope
                    async with anyio.create_task_group() as transfers:
                        for slot in range(1, self.workers + 1):
                            transfers.start_soon(transfer_slot, slot)
                aborted = scope.cancelled_caught or scope.cancel_called
                self._abort_scope = None
                left = handoff.close(drop_waiting=aborted)
                if left:
                    logger.info(
                        "aborted: {} fetched partition(s) left in raw, re-validated at the next start: {}",
                        len(left),
                        ", ".join(str(item.manifest.key) for item in left),
                    )
            clock.end()
            done.set()
        return aborted

    def _plan_event(self, plan: Plan) -> PlanReady:
        return PlanReady(
            time.monotonic(),
            partitions=plan.items,
            to_fetch=len(plan.to_fetch),
            already_ready=len(plan.ready),
            missing=len(plan.missing),
            expected_bytes=plan.expected_bytes,
            expected_seconds=plan.expected_seconds,
            synthetic=self.source.info.synthetic,
        )

    @staticmethod
    def _count(items: tuple[PlannedPartition, ...]) -> dict[PartitionState, int]:
        counts: dict[PartitionState, int] = {}
        for item in items:
            counts[item.state] = counts.get(item.state, 0) + 1
        return counts

    def _count_states(self) -> dict[PartitionState, int]:
        counts: dict[PartitionState, int] = {}
        for state in self._states.values():
            counts[state] = counts.get(state, 0) + 1
        return counts
