"""Verify the run journals a certificate records (its ``journals`` block, format version 2).

For each listed journal, at the path it names under the data directory (checked:
``runs/<run-id>/events.jsonl``, no link followed):

* **present and identical** (size, then sha256): checked;
* **present but different**, or not a regular file: the certificate FAILS, with a
  line naming the run ("run 7's journal changed since certification ...");
* **absent**: not a failure. A journal is the audit trail of how the data came
  to be, not the data: whoever copies ``staging/ready`` and the certificate
  elsewhere (the usual way to hand data on) leaves ``runs/`` behind. ``verify``
  says so in a note ("not here: the audit trail was not checked; the data was")
  and lists them in ``--json`` (``journals.missing``); the data is checked as
  always. Someone who holds the journals can check them by verifying in the
  original data directory (or in a copy that includes ``runs/``).

A certificate of format version 1 has no ``journals`` block and verifies as before.
At most :data:`~rlx_tui.limits.MAX_CERTIFIED_JOURNALS` are listed, each at most
:data:`~rlx_tui.limits.MAX_JOURNAL_BYTES`: a hostile certificate cannot make verify
hash more (the size is compared before any byte is read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.limits import MAX_CERTIFIED_JOURNALS, MAX_JOURNAL_BYTES
from rlx_tui.runs.paths import JOURNAL_FILE, RUN_ID_PATTERN, RUNS_DIR

_JOURNAL_PATH = re.compile(rf"^{RUNS_DIR}/(?P<run_id>{RUN_ID_PATTERN})/{re.escape(JOURNAL_FILE)}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(slots=True)
class JournalCheck:
    """What verify found of the listed journals."""

    listed: int = 0
    checked: list[int] = field(default_factory=list)  # run numbers whose journal matched
    missing: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, naming the run
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.changed and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "checked": self.checked,
            "missing": self.missing,
            "changed": self.changed,
        }


def _entry(value: Any) -> tuple[int, str, int, str]:
    """(run, path, bytes, sha256) of one listed journal; ValueError for a malformed one."""
    if not isinstance(value, dict):
        raise ValueError("a listed journal is not an object")
    path, size, digest, run = value.get("path"), value.get("bytes"), value.get("sha256"), value.get("run")
    match = _JOURNAL_PATH.match(path) if isinstance(path, str) else None
    if match is None:
        raise ValueError("a listed journal has an unsafe or malformed path")
    if not isinstance(run, int) or isinstance(run, bool) or run != int(match["number"]):
        raise ValueError(f"the journal {path} is listed under another run number")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_JOURNAL_BYTES:
        raise ValueError(f"run {run}'s journal is listed with an impossible size")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise ValueError(f"run {run}'s journal is listed without a sha256")
    return run, str(path), size, digest


def check_journals(doc: dict[str, Any], data_dir: Path) -> JournalCheck:
    """Hash every journal ``doc`` lists (see the module docstring). Reads only."""
    found = JournalCheck()
    if doc.get("format_version") == 1 and "journals" not in doc:
        return found  # issued before journals were recorded
    block = doc.get("journals")
    runs = block.get("runs") if isinstance(block, dict) else None
    if not isinstance(runs, list):
        found.problems.append("the certificate's list of run journals is missing or malformed")
        return found
    if len(runs) > MAX_CERTIFIED_JOURNALS:
        found.problems.append(
            f"the certificate lists {len(runs):,} run journals, more than {MAX_CERTIFIED_JOURNALS:,}"
        )
        return found
    found.listed = len(runs)
    for value in runs:
        try:
            run, path, size, digest = _entry(value)
        except ValueError as exc:
            found.problems.append(f"{exc}; not checked")
            continue
        name = f"run {run}'s journal ({path})"
        target = data_dir / path
        try:
            info = fs_guard.lstat(data_dir, target)
        except (OSError, fs_guard.UnsafePathError) as exc:
            found.changed.append(run)
            found.problems.append(f"{name} cannot be reached ({exc})")
            continue
        if info is None:
            found.missing.append(run)
            continue
        if not fs_guard.is_regular(info):
            found.changed.append(run)
            found.problems.append(f"{name} is no longer a regular file")
            continue
        if info.st_size != size:
            found.changed.append(run)
            found.problems.append(
                f"{name} changed since certification ({info.st_size:,} bytes, the certificate says {size:,})"
            )
            continue
        try:
            actual = "sha256:" + fs_guard.sha256_file(data_dir, target)[0]
        except (OSError, fs_guard.FileRefused, fs_guard.UnsafePathError) as exc:
            found.changed.append(run)
            found.problems.append(f"{name} cannot be read ({exc})")
            continue
        if actual != digest:
            found.changed.append(run)
            found.problems.append(
                f"{name} changed since certification (sha256 {actual[7:23]}…, the certificate says "
                f"{digest[7:23]}…)"
            )
            continue
        found.checked.append(run)
    if found.missing:
        runs_named = ", ".join(str(n) for n in found.missing[:10]) + ("…" if len(found.missing) > 10 else "")
        found.notes.append(
            f"{len(found.missing)} of {found.listed} run journal(s) not here (run {runs_named}; "
            "was only staging/ready copied?): the audit trail was not checked, the data was"
        )
    return found
