"""Validate a staged partition and file it in ready or quarantine (blocking; run in a thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rlx_tui.logs import logger
from rlx_tui.staging import PartitionManifest, StagingStore, Zone, utc_now_iso
from rlx_tui.validation import DEFAULT_THRESHOLDS, Thresholds, validate_partition
from rlx_tui.validation.findings import PartitionReport

Validator = Callable[..., PartitionReport]


def validate_and_file(
    store: StagingStore,
    manifest: PartitionManifest,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    validator: Validator = validate_partition,
    recheck_sha256: bool = True,
) -> PartitionManifest:
    """Move ``manifest``'s partition through ``validating`` into ``ready`` or ``quarantine``.

    The checksum recorded at write time is checked again, the row count must
    equal the rows fetched, and every quality check runs. Errors quarantine the
    partition with a reason; warnings are recorded and the file stays ready.
    """
    key = manifest.key
    if manifest.zone is not Zone.VALIDATING:
        manifest = store.move(manifest, Zone.VALIDATING)
    problem = store.data_file_problem(Zone.VALIDATING, key)
    if problem is not None:  # a link or a FIFO is never opened, let alone trusted
        logger.warning("{} quarantined: {}", key, problem)
        return store.move(manifest, Zone.QUARANTINE, quarantine_reason=problem, validated_at=utc_now_iso())
    started = time.perf_counter()
    report = validator(
        store.data_path(Zone.VALIDATING, key),
        key,
        expected_rows=manifest.rows_fetched or None,
        expected_sha256=manifest.sha256 if recheck_sha256 else None,
        thresholds=thresholds,
    )
    timings: dict[str, Any] = dict(manifest.timings)
    timings["validate_s"] = round(time.perf_counter() - started, 4)
    zone = Zone.READY if report.ok else Zone.QUARANTINE
    filed = store.move(
        manifest,
        zone,
        findings=report.findings,
        checks_run=report.checks_run,
        measurements=dict(report.measurements),
        thresholds=thresholds.to_dict(),
        first_ns=report.first_ns,
        last_ns=report.last_ns,
        rows=report.rows or manifest.rows,
        quarantine_reason=report.reason,
        validated_at=utc_now_iso(),
        timings=timings,
    )
    if zone is Zone.READY:
        logger.info(
            "{} ready: {:,} rows, {:,} bytes, {} warning(s), validated in {:.2f}s",
            key,
            filed.rows,
            filed.bytes,
            len(report.warnings),
            timings["validate_s"],
        )
    else:
        logger.warning("{} quarantined: {}", key, report.reason)
    return filed
