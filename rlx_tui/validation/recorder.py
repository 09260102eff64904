"""Collects checks run, measurements and findings for one partition, then builds the report."""

from __future__ import annotations

from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding, PartitionReport, Severity
from rlx_tui.validation.thresholds import Thresholds


class Recorder:
    """``measurements[check] = {"measured", "threshold", "status"}`` for every check evaluated."""

    def __init__(self, key: PartitionKey, thresholds: Thresholds) -> None:
        self.key = key
        self.t = thresholds
        self.findings: list[Finding] = []
        self.checks: list[str] = []
        self.measurements: dict[str, Any] = {}
        self.rows = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def record(
        self, check: str, measured: Any, threshold: Any, severity: Severity | None = None, text: str = ""
    ) -> None:
        """Record a check; with a severity, also a finding whose message is ``"<key>: <text>"``."""
        self.note(check, measured, threshold, "pass" if severity is None else severity.value)
        if severity is not None:
            self.finding(check, severity, measured, threshold, text)

    def note(self, check: str, measured: Any, threshold: Any, status: str) -> None:
        """Record a measurement only; an earlier, worse status of the same check is kept."""
        if check not in self.checks:
            self.checks.append(check)
        rank = {"pass": 0, "warning": 1, "error": 2}
        previous = self.measurements.get(check)
        if previous is None or rank[status] >= rank[previous["status"]]:
            self.measurements[check] = {"measured": measured, "threshold": threshold, "status": status}

    def finding(self, check: str, severity: Severity, measured: Any, threshold: Any, text: str) -> None:
        """A finding only; its measurement is recorded with :meth:`note`."""
        self.findings.append(Finding(check, severity, measured, threshold, f"{self.key}: {text}"))

    def report(self) -> PartitionReport:
        return PartitionReport(
            findings=tuple(self.findings),
            rows=self.rows,
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            checks_run=tuple(self.checks),
            measurements=self.measurements,
            thresholds=self.t.to_dict(),
            thresholds_digest=self.t.digest(),
        )
