"""Validation: integrity, schema, per-partition quality and continuity across a request.

Public API (the engine and the certificate code call exactly this):

- :func:`validate_partition` (``partition.py``): one file -> :class:`PartitionReport`.
- :func:`validate_range` (``continuity.py``): a request's days -> list of :class:`Finding`.
- :class:`Thresholds` / :data:`DEFAULT_THRESHOLDS` (``thresholds.py``): the one configuration.

Check ids are listed in the docstrings of ``partition.py`` and ``continuity.py``.
"""

from rlx_tui.validation.continuity import DayBounds, validate_range
from rlx_tui.validation.findings import Finding, PartitionReport, Severity
from rlx_tui.validation.partition import validate_partition
from rlx_tui.validation.thresholds import DEFAULT_THRESHOLDS, DerivedGapLimits, GapLimits, Thresholds

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
