"""``run.json``: what a run was asked, which process hosts it, and how it ended.

Written atomically and never through a link (:func:`rlx_tui.runs.files.write_json`):
by the launcher (``starting``), by the host when it runs (``running``, with its
PID and the PID's start time) and when it ends (``ended``, with the outcome and
the journal's digest). Nothing secret goes in: the settings are summarised
(:func:`settings_summary`), the access key id is masked.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rlx_tui import __version__
from rlx_tui.runs.files import read_json, write_json
from rlx_tui.runs.paths import RunPaths
from rlx_tui.safety import printable
from rlx_tui.settings import Settings, mask

RECORD_FORMAT = "rlx-tui run"
RECORD_VERSION = 1


class RunState(StrEnum):
    """What ``run.json`` says (a host that died leaves ``starting`` or ``running`` behind)."""

    STARTING = "starting"
    RUNNING = "running"
    ENDED = "ended"


class Outcome(StrEnum):
    """How a run ended (written by the host in its last journal line and in ``run.json``)."""

    FINISHED = "finished"  # every pass ran to its end (failed or quarantined partitions may remain)
    STOPPED = "stopped"  # stop asked: the partitions in flight were finished first
    ABORTED = "aborted"  # stop --abort (or SIGINT): the partitions in flight were discarded
    FAILED = "failed"  # a fatal error (credentials, disk full, busy data directory...)


def settings_summary(settings: Settings) -> dict[str, Any]:
    """The settings a run used, without secrets (for ``run.json`` and ``status``)."""
    credentials = settings.credentials
    return {
        "source": settings.source,
        "endpoint_url": settings.endpoint_url,
        "workers": settings.workers,
        "retry": dataclasses.asdict(settings.retry),
        "credentials": f"set ({mask(credentials.access_key_id)})" if credentials else "none",
        "fetch_mode": settings.fetch_mode,
        "demo_profile": settings.demo_profile if settings.source == "demo" else None,
        "max_gb": settings.max_gb,
        "listing_ttl": settings.listing_ttl,
    }


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The content of ``run.json``."""

    run_id: str
    state: RunState
    request: dict[str, Any]
    settings: dict[str, Any]
    started_at: str
    retry_quarantined: bool = False
    pid: int | None = None
    pid_started: float | None = None  # the process's start time (psutil): a reused PID differs
    boot_id: str | None = None  # the kernel's boot id: a PID from before a reboot is not this run's
    hostname: str = field(default_factory=socket.gethostname)
    version: str = __version__
    outcome: Outcome | None = None
    error: str | None = None
    ended_at: str | None = None
    journal_sha256: str | None = None
    journal_lines: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        data["outcome"] = self.outcome.value if self.outcome else None
        return {"format": RECORD_FORMAT, "format_version": RECORD_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """ValueError (or KeyError/TypeError) for a file that is not a run record."""
        if data.get("format") != RECORD_FORMAT:
            raise ValueError("not an rlx-tui run record")
        values = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        values["state"] = RunState(data["state"])
        values["outcome"] = Outcome(data["outcome"]) if data.get("outcome") else None
        for name in ("pid", "journal_lines"):
            if values.get(name) is not None and (not isinstance(values[name], int) or values[name] < 0):
                raise ValueError(f"{name} is not a whole number")
        return cls(**values)

    def ended(self, outcome: Outcome, ended_at: str, error: str | None = None, **changes: Any) -> RunRecord:
        """This record, ended (the error text is made printable and cut to one line)."""
        line = printable(error.splitlines()[0], 500) if error else None
        return dataclasses.replace(
            self, state=RunState.ENDED, outcome=outcome, ended_at=ended_at, error=line, **changes
        )


def write_record(paths: RunPaths, record: RunRecord) -> None:
    """Replace ``run.json`` atomically (blocking)."""
    write_json(paths.data_dir, paths.record, record.to_dict())


def read_record(paths: RunPaths) -> RunRecord | None:
    """The run's record, or None when it is missing, a link, too large or not a run record."""
    try:
        record = RunRecord.from_dict(read_json(paths.data_dir, paths.record))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if record.run_id == paths.run_id else None
