"""Validation: integrity, schema, per-partition quality and continuity across a request.

Public API (the engine and the certificate code call exactly this):

- :func:`validate_partition` (``partition.py``): one file -> :class:`PartitionReport`.
- :func:`validate_range` (``continuity.py``): a request's days -> list of :class:`Finding`.
- :class:`Thresholds` / :data:`DEFAULT_THRESHOLDS` (``thresholds.py``): the one configuration.

Check ids are listed in the docstrings of ``partition.py`` and ``continuity.py``.

Importing this package is cheap (standard library only): polars and pyarrow are
imported by ``partition.py`` on the first call of :func:`validate_partition`, so
a command that only reads sidecars (``status``) or a screen that has not
validated anything yet never pays for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding, PartitionReport, Severity
from rlx_tui.validation.thresholds import DEFAULT_THRESHOLDS, DerivedGapLimits, GapLimits, Thresholds

if TYPE_CHECKING:
    from rlx_tui.validation.continuity import DayBounds, validate_range

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DayBounds",
    "DerivedGapLimits",
    "Finding",
    "GapLimits",
    "PartitionReport",
    "Severity",
    "Thresholds",
    "validate_partition",
    "validate_range",
]


def validate_partition(
    path: Path,
    key: PartitionKey,
    *,
    expected_rows: int | None = None,
    expected_sha256: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> PartitionReport:
    """Validate one partition file; never raises for bad or missing data (see ``partition.py``)."""
    from rlx_tui.validation.partition import validate_partition as validate

    return validate(
        path, key, expected_rows=expected_rows, expected_sha256=expected_sha256, thresholds=thresholds
    )


def __getattr__(name: str) -> Any:
    """The continuity checks on first use: reading sidecars (``staging``, ``status``) needs only findings."""
    if name in ("DayBounds", "validate_range"):
        from rlx_tui.validation import continuity

        return getattr(continuity, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
