"""The run journals a certificate records: one :class:`JournalDigest` per run that is over.

A certificate lists, for every run of the data directory whose process is done
(``run.json`` says it ended, or its process is gone: a run that died), the run's
number, its journal's path, size, sha256, lines and events, its first and last
line's times and its outcome (``died`` for a journal without its ``ended`` line).
``verify`` hashes the journals again (:mod:`rlx_tui.certificate.journals`).

Every file is reached without following a link (:mod:`rlx_tui.fs_guard`) and read
only if it is a regular file of at most :data:`~rlx_tui.limits.MAX_JOURNAL_BYTES`;
at most :data:`~rlx_tui.limits.MAX_CERTIFIED_JOURNALS` runs are listed. A journal
that breaks one of these rules, or that no longer has the digest its ``run.json``
recorded when the run ended, is a :class:`JournalProblem` (one line naming the
run): the certificate is refused rather than issued over an audit trail that was
changed. The caller holds the data directory's lock, so no run is live meanwhile;
a run still starting (its process alive, its lock not yet taken) is left out.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.limits import MAX_CERTIFIED_JOURNALS, MAX_JOURNAL_BYTES
from rlx_tui.runs.journal import read_journal
from rlx_tui.runs.liveness import identity_problem
from rlx_tui.runs.paths import RunPaths, list_runs
from rlx_tui.runs.record import RunState, read_record
from rlx_tui.units import human_bytes

DIED = "died"


class JournalProblem(ValueError):
    """A run journal that cannot be certified (one line naming the run, with a next step)."""


@dataclass(frozen=True, slots=True)
class JournalDigest:
    """One run's journal as a certificate records it."""

    run: int
    run_id: str
    path: str  # relative to the data directory, POSIX
    bytes: int
    sha256: str  # "sha256:<hex>"
    lines: int  # journal lines read (engine events and the host's own lines)
    events: int  # of which engine events
    started_at: str | None  # time of the first line
    ended_at: str | None  # time of the last line
    outcome: str  # finished, stopped, aborted, failed, or died

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # the certificate's keys are the field names, in this order


def journal_digest_of(paths: RunPaths, outcome: str) -> JournalDigest | None:
    """The digest of one run's journal; None when it has none; JournalProblem when it is unfit (blocking)."""
    data_dir = paths.data_dir
    name = f"run {paths.number}'s journal ({_rel(paths)})"
    info = fs_guard.lstat(data_dir, paths.journal)
    if info is None:
        return None
    if not fs_guard.is_regular(info):
        raise JournalProblem(f"{name} is not a regular file: remove it, or move the run's directory away")
    if info.st_size > MAX_JOURNAL_BYTES:
        raise JournalProblem(
            f"{name} is {human_bytes(info.st_size)}, more than a journal ever holds "
            f"({human_bytes(MAX_JOURNAL_BYTES)}): move the run's directory away"
        )
    try:
        digest, size = fs_guard.sha256_file(data_dir, paths.journal)
        read = read_journal(data_dir, paths.journal)
    except (OSError, fs_guard.FileRefused) as exc:
        raise JournalProblem(f"{name} cannot be read ({exc}): move the run's directory away") from None
    if size != read.size:
        raise JournalProblem(f"{name} changed while it was read: certify again")
    entries = read.entries
    events = sum(1 for entry in entries if entry.event is not None)
    last = entries[-1] if entries else None
    ended = last is not None and last.ended
    if ended and last is not None and last.host is not None:
        outcome = str(last.host.details.get("outcome") or outcome)
    return JournalDigest(
        run=paths.number,
        run_id=paths.run_id,
        path=_rel(paths),
        bytes=size,
        sha256=f"sha256:{digest}",
        lines=len(entries),
        events=events,
        started_at=entries[0].ts if entries else None,
        ended_at=last.ts if last is not None else None,
        outcome=outcome if ended else DIED,
    )


def finished_journals(data_dir: Path) -> list[JournalDigest]:
    """Every over run's journal in ``data_dir``, oldest first (see the module docstring; blocking)."""
    runs = list_runs(Path(data_dir))
    if len(runs) > MAX_CERTIFIED_JOURNALS:
        raise JournalProblem(
            f"{data_dir}/runs holds {len(runs):,} runs, more than a certificate lists "
            f"({MAX_CERTIFIED_JOURNALS:,}): move the oldest run directories away"
        )
    found: list[JournalDigest] = []
    for paths in runs:
        record = read_record(paths)
        if record is not None and record.state is not RunState.ENDED and identity_problem(record) is None:
            continue  # its process is alive: a run starting (it cannot take the lock we hold)
        digest = journal_digest_of(paths, record.outcome.value if record and record.outcome else DIED)
        if digest is None:
            continue
        recorded = record.journal_sha256 if record is not None else None
        if recorded is not None and recorded != digest.sha256:
            raise JournalProblem(
                f"run {paths.number}'s journal ({digest.path}) changed after the run ended: its run.json "
                f"records {recorded[:19]}…, the file is {digest.sha256[:19]}…; restore it, or move the "
                "run's directory away"
            )
        found.append(digest)
    return found


def _rel(paths: RunPaths) -> str:
    return os.path.relpath(paths.journal, paths.data_dir).replace(os.sep, "/")
