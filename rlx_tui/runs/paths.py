"""Where runs live: ``<data_dir>/runs/<run-id>/``, ids that sort, and allocating a new one.

A run id is ``<number:06d>-<started YYYYMMDDTHHMMSSZ>`` (``000007-20261201T140203Z``),
like the certificates' ids: sortable, readable, and the number is what people say
("run 7"). Numbers are handed out under an exclusive ``flock`` on the ``runs``
directory itself, so two launchers never take the same one. Every directory is
reached without following links (:mod:`rlx_tui.fs_guard`); a run directory is
created ``0700`` (its socket is reachable by its owner only).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from rlx_tui import fs_guard

RUNS_DIR = "runs"
RECORD_FILE = "run.json"
JOURNAL_FILE = "events.jsonl"
SOCKET_FILE = "control.sock"
HOST_LOG_FILE = "host.log"
RUN_DIR_MODE = 0o700
# A run id, unanchored: the one definition (certificate/journals.py matches listed journals with it).
RUN_ID_PATTERN = r"(?P<number>\d{6,9})-(?P<stamp>\d{8}T\d{6}Z)"
_RUN_ID = re.compile(f"^{RUN_ID_PATTERN}$")


def runs_dir(data_dir: Path) -> Path:
    """``<data_dir>/runs``."""
    return Path(data_dir) / RUNS_DIR


def new_run_id(number: int, started: dt.datetime) -> str:
    """The id of run ``number`` started at ``started``."""
    stamp = started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{number:06d}-{stamp}"


def run_number(run_id: str) -> int | None:
    """The number of a well-formed run id, else None (the id is never used as a path then)."""
    match = _RUN_ID.match(run_id)
    return int(match["number"]) if match else None


@dataclass(frozen=True, slots=True)
class RunPaths:
    """The files of one run (``run_id`` is checked: it cannot name a path outside ``runs``)."""

    data_dir: Path
    run_id: str

    def __post_init__(self) -> None:
        if run_number(self.run_id) is None:
            raise ValueError(f"not a run id: {self.run_id!r}")

    @property
    def number(self) -> int:
        number = run_number(self.run_id)
        assert number is not None  # checked in __post_init__
        return number

    @property
    def dir(self) -> Path:
        return runs_dir(self.data_dir) / self.run_id

    @property
    def record(self) -> Path:
        return self.dir / RECORD_FILE

    @property
    def journal(self) -> Path:
        return self.dir / JOURNAL_FILE

    @property
    def socket(self) -> Path:
        return self.dir / SOCKET_FILE

    @property
    def host_log(self) -> Path:
        return self.dir / HOST_LOG_FILE


def list_runs(data_dir: Path) -> list[RunPaths]:
    """Every run directory of ``data_dir``, oldest first (links and stray names are skipped)."""
    found = []
    for name, mode in fs_guard.list_dir(Path(data_dir), runs_dir(data_dir)):
        if stat.S_ISDIR(mode) and run_number(name) is not None:
            found.append(RunPaths(Path(data_dir), name))
    return sorted(found, key=lambda paths: (paths.number, paths.run_id))


def allocate_run(data_dir: Path, now: dt.datetime | None = None) -> RunPaths:
    """Create the directory of a new run (the next number, ``0700``) and return its paths.

    UnsafePathError (one line) if ``runs`` or anything above it is a link.
    """
    data_dir = Path(data_dir)
    now = now or dt.datetime.now(dt.UTC)
    with fs_guard.dir_fd(data_dir, runs_dir(data_dir), create=True, mode=RUN_DIR_MODE) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        numbers = [run_number(name) for name in os.listdir(fd)]
        number = max((n for n in numbers if n is not None), default=0) + 1
        run_id = new_run_id(number, now)
        os.mkdir(run_id, RUN_DIR_MODE, dir_fd=fd)
        run_fd = os.open(run_id, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        try:
            os.fchmod(run_fd, RUN_DIR_MODE)  # whatever the umask said
        finally:
            os.close(run_fd)
    return RunPaths(data_dir, run_id)
