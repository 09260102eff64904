"""The per-partition half of the engine: fetch one partition into ``raw``, validate and file it.

:class:`PartitionStages` holds what one partition goes through (attempts with
retries, the private attempt directory, the hand-over to validation, quarantine
of an unreadable object) and the events it emits. :class:`~rlx_tui.engine.run.Engine`
inherits it and sets its state up; the split keeps each file to one job: the run
and its pipeline there, one partition here.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream

from rlx_tui.engine.filing import Validator, validate_and_file
from rlx_tui.engine.handoff import Fetched
from rlx_tui.engine.plan import Plan
from rlx_tui.engine.policy import backoff_delay
from rlx_tui.engine.rate import RateMeter
from rlx_tui.engine.transfers import TransferSlots
from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    Retrying,
    Validated,
    ValidationStarted,
)
from rlx_tui.kinds import ErrorKind, FatalKind, PartitionState, Zone
from rlx_tui.logs import logger
from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.settings import RetryPolicy
from rlx_tui.sources.base import Cancelled, FetchResult, Source, SourceError, classify
from rlx_tui.staging import PartitionManifest, StagingStore, utc_now_iso
from rlx_tui.validation import Thresholds


class PartitionStages:
    """Fetch stage and validation stage of one partition (state set up by ``Engine.__init__``)."""

    source: Source
    store: StagingStore
    retry: RetryPolicy
    thresholds: Thresholds
    validator: Validator
    in_flight: dict[PartitionKey, tuple[int, float, int]]
    max_in_flight: int
    fetched: list[PartitionKey]
    retries: int
    failures: int
    _sleep: Callable[[float], Awaitable[None]] | None
    _rng: random.Random
    _transfers: TransferSlots
    _stop_requested: anyio.Event
    _fatal: str | None
    _fatal_kind: FatalKind | None
    _send: MemoryObjectSendStream[Event] | None
    _meter: RateMeter
    _states: dict[PartitionKey, PartitionState]

    def stop(self, abort: bool = False) -> None:
        """Stop taking new partitions (the engine's; a fatal error calls it)."""
        raise NotImplementedError

    def _file(self, manifest: PartitionManifest) -> PartitionManifest:
        return validate_and_file(self.store, manifest, thresholds=self.thresholds, validator=self.validator)

    # -- events ----------------------------------------------------------------------
    async def _emit(self, event: Event) -> None:
        if self._send is None:
            return
        try:
            await self._send.send(event)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._send = None

    def _emit_nowait(self, event: Event) -> None:
        if self._send is None:
            return
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            pass  # a slow consumer loses a progress tick, never a partition event
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._send = None

    async def _sleep_or_stop(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        with anyio.move_on_after(seconds):
            await self._stop_requested.wait()

    def _fail_run(self, cause: str, kind: FatalKind) -> None:
        if self._fatal is None:
            self._fatal, self._fatal_kind = cause, kind
        self.stop()

    # -- one partition: the fetch stage ---------------------------------------------------
    async def _fetch(self, key: PartitionKey, worker: int, plan: Plan) -> Fetched | None:
        """Fetch one partition and publish it to ``raw``, retrying transient failures.

        Returns the partition to validate, or None if it ended otherwise (failed,
        missing, quarantined unread, or put back in the queue by a stop).
        """
        objects = plan.objects.get(key, ())
        attempt = 0
        while True:
            attempt += 1
            self.in_flight[key] = (worker, time.monotonic(), attempt)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            self._states[key] = PartitionState.DOWNLOADING
            await self._emit(PartitionStarted(time.monotonic(), key, worker, attempt))
            logger.info("{} attempt {} started on worker {}", key, attempt, worker)
            try:
                return await self._attempt(key, worker, attempt, objects)
            except SourceError as error:
                if error.kind.retryable and attempt < self.retry.max_attempts:
                    if self._stop_requested.is_set():
                        self._states[key] = PartitionState.QUEUED
                        return None
                    delay, ceiling = backoff_delay(self.retry, attempt, self._rng)
                    self.retries += 1
                    self._states[key] = PartitionState.RETRYING
                    logger.warning(
                        "{} attempt {} failed: {}; retry in {:.2f}s", key, attempt, error.cause, delay
                    )
                    await self._emit(
                        Retrying(time.monotonic(), key, worker, attempt, error.cause, delay, ceiling)
                    )
                    self.in_flight.pop(key, None)
                    await self._sleep_or_stop(delay)
                    if self._stop_requested.is_set():
                        self._states[key] = PartitionState.QUEUED
                        return None
                    continue
                await self._handle_failure(key, error, attempt)
                return None
            finally:
                self.in_flight.pop(key, None)

    async def _attempt(
        self, key: PartitionKey, worker: int, attempt: int, objects: tuple[ObjectRef, ...]
    ) -> Fetched:
        """One fetch attempt into a private directory, then published to ``raw``."""
        attempt_dir = None
        cancel = threading.Event()
        published = False
        started = time.perf_counter()
        try:
            attempt_dir = await anyio.to_thread.run_sync(self.store.new_attempt_dir, key)
            target = attempt_dir

            def fetch() -> FetchResult:
                return self.source.fetch(key, objects, target, cancel)

            try:
                with anyio.fail_after(self.retry.fetch_timeout_seconds):
                    result = await self._transfers.run(fetch, cancel, key.id)
            except TimeoutError:
                raise SourceError(
                    ErrorKind.TRANSIENT,
                    f"{key}: no complete answer within {self.retry.fetch_timeout_seconds:.0f}s (deadline)",
                ) from None
            except Cancelled:
                raise SourceError(ErrorKind.TRANSIENT, f"{key}: fetch cancelled") from None
            except SourceError as error:
                if error.kind is ErrorKind.CORRUPT:
                    await anyio.to_thread.run_sync(
                        self._quarantine_unfetchable, key, attempt_dir, error, attempt
                    )
                    published = True
                raise
            fetch_s = time.perf_counter() - started
            self.fetched.append(key)
            self._meter.add(result.bytes, result.rows)
            await self._emit(
                Downloaded(time.monotonic(), key, worker, result.bytes, result.rows, round(fetch_s, 3))
            )
            manifest = PartitionManifest(
                key=key,
                zone=Zone.RAW,
                source=self.source.info,
                objects=result.objects,
                sha256=result.sha256,
                bytes=result.bytes,
                rows=result.rows,
                rows_fetched=result.rows_fetched,
                attempts=attempt,
                timings={"fetch_s": round(fetch_s, 4)},
                fetched_at=utc_now_iso(),
            )
            with anyio.CancelScope(shield=True):
                manifest = await anyio.to_thread.run_sync(self.store.publish, attempt_dir, manifest)
                published = True
                self._states[key] = PartitionState.VALIDATING  # in raw, in the validation stage's hands
                logger.info(
                    "{} downloaded: {:,} bytes, {:,} rows in {:.2f}s", key, result.bytes, result.rows, fetch_s
                )
            return Fetched(manifest, worker, attempt)
        except OSError as exc:
            raise classify(exc, f"staging {key}") from None
        finally:
            cancel.set()  # an abandoned fetch stops at its next check and publishes nothing
            if not published and attempt_dir is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self.store.discard_attempt, attempt_dir)

    # -- one partition: the validation stage ----------------------------------------------
    async def _validate(self, item: Fetched) -> int:
        """Validate a fetched partition (in a thread) and file it. Returns the bytes it brought."""
        manifest = item.manifest
        key = manifest.key
        await self._emit(ValidationStarted(time.monotonic(), key, item.worker))
        try:
            with anyio.CancelScope(shield=True):  # once started, a validation finishes and files
                filed = await anyio.to_thread.run_sync(self._file, manifest)
        except OSError as exc:  # the data stays in raw/validating: recovery re-validates it
            await self._handle_failure(key, classify(exc, f"staging {key}"), item.attempt)
            return 0
        self._states[key] = PartitionState.READY if filed.zone is Zone.READY else PartitionState.QUARANTINED
        await self._emit(
            Validated(
                time.monotonic(),
                key,
                filed.zone,
                filed.findings,
                filed.quarantine_reason,
                filed.bytes,
                filed.rows,
            )
        )
        return manifest.bytes

    def _quarantine_unfetchable(
        self, key: PartitionKey, attempt_dir: Path, error: SourceError, attempt: int
    ) -> None:
        """A corrupt object: keep what arrived (if anything) in quarantine, with the reason."""
        for leftover in attempt_dir.iterdir():
            if error.evidence is None or leftover != error.evidence:
                leftover.unlink(missing_ok=True)
        manifest = PartitionManifest(
            key=key,
            zone=Zone.QUARANTINE,
            source=self.source.info,
            attempts=attempt,
            quarantine_reason=error.cause,
            fetched_at=utc_now_iso(),
        )
        self.store.publish(attempt_dir, manifest)

    async def _handle_failure(self, key: PartitionKey, error: SourceError, attempt: int) -> None:
        if error.kind is ErrorKind.CORRUPT:
            self._states[key] = PartitionState.QUARANTINED
            logger.warning("{} quarantined: {}", key, error.cause)
            await self._emit(Validated(time.monotonic(), key, Zone.QUARANTINE, (), error.cause, 0, 0))
            return
        if error.kind is ErrorKind.MISSING:
            self._states[key] = PartitionState.MISSING
        else:
            self._states[key] = PartitionState.FAILED
            self.failures += 1
        logger.error("{} failed after {} attempt(s) [{}]: {}", key, attempt, error.kind.value, error.cause)
        await self._emit(PartitionFailed(time.monotonic(), key, error.cause, error.kind, attempt))
        if error.kind.fatal:
            self._fail_run(error.cause, FatalKind.of(error.kind))
