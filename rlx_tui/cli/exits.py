"""Exit codes, the one-line error a command raises, and how failures map onto them."""

from __future__ import annotations

import errno

from rlx_tui import signals
from rlx_tui.kinds import ErrorKind, FatalKind, SourceError
from rlx_tui.limits import MAX_NAMES, MAX_PLAN_PARTITIONS
from rlx_tui.service.errors import UnsafePathError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_INCOMPLETE = 4
EXIT_VERIFY = 5
EXIT_DISK = 6
EXIT_INTERRUPTED = signals.EXIT_INTERRUPTED

EXIT_CODES_HELP = f"""exit codes:
  0    success
  1    unexpected internal error (see data/logs/rlx-tui.log)
  2    bad usage or bad input (flags, dates, names, .env, data directory, links in it)
  3    connection or credentials failure
  4    incomplete: partitions failed, quarantined or missing; certificate refused
  5    certificate not verified (fails, or signed by a key nobody pinned)
  6    not enough disk space
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP, or the output pipe closed); the next run resumes

A request may span at most {MAX_PLAN_PARTITIONS:,} partitions (after clamping to the days
the source holds) and name at most {MAX_NAMES} tables, symbols or exchanges each.
"""

# A run that stopped on a fatal error: its exit code by kind (anything else: the source, 3).
FATAL_EXIT_CODES: dict[FatalKind, int] = {
    FatalKind.DISK_FULL: EXIT_DISK,
    FatalKind.PLAN: EXIT_USAGE,
    FatalKind.BUSY: EXIT_USAGE,
    FatalKind.BUDGET: EXIT_USAGE,
    FatalKind.LOCAL_IO: EXIT_USAGE,
}


class CliError(Exception):
    """A one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def fatal_exit_code(kind: FatalKind | None) -> int:
    """The exit code of a run that stopped on a fatal error of ``kind``."""
    return FATAL_EXIT_CODES.get(kind, EXIT_CONNECTION) if kind is not None else EXIT_CONNECTION


def source_failure(exc: Exception) -> CliError:
    """One line for a failure talking to the source (a single attempt: nothing is retried here)."""
    if isinstance(exc, SourceError):
        if exc.kind is ErrorKind.DISK_FULL:
            return CliError(exc.cause + ": free space or choose another --data-dir", EXIT_DISK)
        if exc.kind is ErrorKind.LOCAL_IO:
            return CliError(exc.cause, EXIT_USAGE)
        if exc.kind is ErrorKind.TRANSIENT:
            return CliError(
                f"{exc.cause}: the source did not answer; check --endpoint-url and the network, "
                "then run the command again",
                EXIT_CONNECTION,
            )
        return CliError(f"{exc.cause}", EXIT_CONNECTION)
    return CliError(str(exc), EXIT_CONNECTION)


def os_failure(exc: OSError) -> CliError:
    """One line for a filesystem error that reached the top: disk full is 6, links and permissions 2."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CliError(
            "no space left on the device holding the data directory: free space or choose another --data-dir",
            EXIT_DISK,
        )
    if isinstance(exc, UnsafePathError):
        return CliError(str(exc), EXIT_USAGE)
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CliError(
            f"cannot write{where}: {exc.strerror}; check the data directory's permissions and mount",
            EXIT_USAGE,
        )
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENAMETOOLONG):
        return CliError(f"unusable path{where}: {exc.strerror}; choose another --data-dir", EXIT_USAGE)
    return CliError(f"input/output error{where}: {exc.strerror or exc}; check the disk", EXIT_INTERNAL)
