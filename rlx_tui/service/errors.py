"""The failures a use case reports to a face, each a one-line message (and a kind where it helps).

The faces catch these (and :class:`~rlx_tui.service.requests.RequestError`) instead of
the core's own exception types, which they never import. The core's types that reach
the faces unchanged are re-exported here, so a face names them through the service.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rlx_tui.datadir import DataDirError as DataDirError
from rlx_tui.fs_guard import FileRefused as FileRefused
from rlx_tui.fs_guard import UnsafePathError as UnsafePathError
from rlx_tui.kinds import SourceError as SourceError

if TYPE_CHECKING:
    from rlx_tui.staging import StoreBusy as StoreBusy

__all__ = [
    "CertifyFailed",
    "CertifyProblem",
    "DataDirError",
    "FileRefused",
    "NoSpace",
    "SourceError",
    "StoreBusy",
    "UnreadableCertificate",
    "UnsafePathError",
    "is_demo_lake_failure",
]


class NoSpace(OSError):
    """Not enough free space in the data directory to start (one line, with the next step)."""


class CertifyProblem(StrEnum):
    SIGNING_KEY = "signing key"  # the key given (or the data directory's) is unusable: bad input
    CHAIN = "chain"  # the previous certificate was edited: the chain cannot be continued
    BUSY = "busy"  # a run is working in the data directory: certify once it has ended
    JOURNAL = "journal"  # a run journal cannot be recorded (changed after its run, a link, too large)


class CertifyFailed(Exception):
    """A certificate could not be issued for a reason other than blockers."""

    def __init__(self, message: str, problem: CertifyProblem) -> None:
        super().__init__(message)
        self.problem = problem


class UnreadableCertificate(ValueError):
    """The path given to verify is not a readable certificate file (one line, with the next step)."""


def __getattr__(name: str) -> Any:
    """``StoreBusy`` from :mod:`rlx_tui.staging` on first use: a face's start does not load staging."""
    if name == "StoreBusy":
        from rlx_tui.staging import StoreBusy

        return StoreBusy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_demo_lake_failure(exc: BaseException) -> bool:
    """True when the embedded demo lake could not be started (its log says why)."""
    return type(exc).__name__ == "DemoLakeError"
