"""Plain value types shared by the core and both faces: zones, error kinds, partition and run states.

Also :class:`SourceError`, the classified failure a face shows (cause and kind).

Nothing here imports anything but the standard library, so the CLI, the dashboard and
the event codec may use these enums without pulling in staging, sources or the engine.
Their string values are what appears in files and in ``--json`` output.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Zone(StrEnum):
    """The staging zones a partition moves through: raw -> validating -> ready | quarantine."""

    RAW = "raw"
    VALIDATING = "validating"
    READY = "ready"
    QUARANTINE = "quarantine"


class ErrorKind(StrEnum):
    """How a failure talking to the source (or writing what it sent) is classified."""

    TRANSIENT = "transient"  # connection errors, timeouts, 5xx, throttling: retried
    ACCESS_DENIED = "access denied"  # credentials refused: fatal for the run
    MISSING = "missing at source"  # the object is not there: not retried
    BAD_REQUEST = "bad request"  # the request itself is wrong: not retried
    CORRUPT = "corrupt at source"  # the object is there but unreadable or empty: quarantined
    DISK_FULL = "disk full"  # no space left in the data directory: stops the run
    LOCAL_IO = "data directory not writable"  # read-only, permissions, I/O error: stops the run
    UPGRADE = "upgrade required"  # Crypto Lake switched this lakeapi version off

    @property
    def retryable(self) -> bool:
        return self is ErrorKind.TRANSIENT

    @property
    def fatal(self) -> bool:
        """Errors that make every other partition fail too: stop the run."""
        return self in (ErrorKind.ACCESS_DENIED, ErrorKind.DISK_FULL, ErrorKind.LOCAL_IO, ErrorKind.UPGRADE)


class PartitionState(StrEnum):
    """What the user sees per partition (an inventory cell, a plan line)."""

    AVAILABLE = "available"
    MISSING = "missing at source"
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    RETRYING = "retrying"
    VALIDATING = "validating"
    READY = "ready"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class RunState(StrEnum):
    """What a run is doing, as :class:`~rlx_tui.events.RunStateChanged` reports it."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"


class FatalKind(StrEnum):
    """Why a run stopped before its end (``RunFinished.fatal_kind``).

    The first members carry the values of the :class:`ErrorKind` that stopped the run;
    the last three are the run's own refusals. The values are the ones ``--json``
    has always printed.
    """

    TRANSIENT = ErrorKind.TRANSIENT.value  # the source did not answer, retries exhausted
    ACCESS_DENIED = ErrorKind.ACCESS_DENIED.value
    MISSING = ErrorKind.MISSING.value
    BAD_REQUEST = ErrorKind.BAD_REQUEST.value
    CORRUPT = ErrorKind.CORRUPT.value
    DISK_FULL = ErrorKind.DISK_FULL.value  # a write failed, or the disk preflight refused the plan
    LOCAL_IO = ErrorKind.LOCAL_IO.value
    UPGRADE = ErrorKind.UPGRADE.value
    BUSY = "busy"  # another rlx-tui works in this data directory
    PLAN = "plan"  # the data directory holds another source's data
    BUDGET = "budget"  # the plan downloads more than --max-gb

    @classmethod
    def of(cls, kind: ErrorKind) -> FatalKind:
        """The fatal kind of a run stopped by a source error of ``kind``."""
        return cls(kind.value)


class SourceError(Exception):
    """A classified failure with a one-line human cause (never a secret)."""

    def __init__(self, kind: ErrorKind, cause: str, evidence: Path | None = None) -> None:
        super().__init__(cause)
        self.kind = kind
        self.cause = cause
        self.evidence = evidence  # a file worth keeping in quarantine (e.g. the unreadable object)

    def __str__(self) -> str:
        return self.cause
