"""Findings: what a check measured, against which threshold, and how bad it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """``error`` sends a partition to quarantine; ``warning`` is recorded, the file stays ready."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed (or borderline) check on one partition or one range.

    ``check`` is a stable name such as ``"book.crossed"`` or ``"all.max_gap"``;
    ``message`` is a sentence a person can act on, naming the partition, the
    measured value and the threshold.
    """

    check: str
    severity: Severity
    measured: Any
    threshold: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "measured": self.measured,
            "threshold": self.threshold,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            check=str(data["check"]),
            severity=Severity(data["severity"]),
            measured=data.get("measured"),
            threshold=data.get("threshold"),
            message=str(data["message"]),
        )


@dataclass(frozen=True, slots=True)
class PartitionReport:
    """The validator's verdict on one partition file."""

    findings: tuple[Finding, ...] = ()
    rows: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    checks_run: tuple[str, ...] = ()
    measurements: dict[str, Any] = field(default_factory=dict)
    # The policy the checks ran under (``Thresholds.to_dict()`` and its digest); empty when unknown.
    thresholds: dict[str, Any] = field(default_factory=dict)
    thresholds_digest: str | None = None

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings allowed)."""
        return not self.errors

    @property
    def reason(self) -> str | None:
        """The quarantine reason: every error message joined, or None when ok."""
        if self.ok:
            return None
        return "; ".join(f.message for f in self.errors)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for sidecars and events."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "findings": [f.to_dict() for f in self.findings],
            "checks_run": list(self.checks_run),
            "measurements": dict(self.measurements),
            "thresholds": dict(self.thresholds),
            "thresholds_digest": self.thresholds_digest,
            "quarantine_reason": self.reason,
        }
