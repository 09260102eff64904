"""The last request, kept in the data directory so the next launch offers (and resumes) it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from rlx_tui.atomic import atomic_write_json
from rlx_tui.partitions import Request

STATE_FILE = "tui-last-request.json"


def last_request_path(data_dir: Path) -> Path:
    """Where the last request of ``data_dir`` is kept."""
    return data_dir / STATE_FILE


def write_last_request(path: Path, request: Request, finished: bool) -> None:
    """Blocking: keep ``request`` and whether it finished (atomically)."""
    payload = {"request": request.to_dict(), "finished": finished}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, payload)


def read_last_request(path: Path) -> tuple[Request, bool] | None:
    """Blocking: the last request and whether it finished, or None (absent or unreadable)."""
    try:
        data = json.loads(path.read_text())
        raw = data["request"]
        request = Request(
            tables=tuple(raw["tables"]),
            exchanges=tuple(raw["exchanges"]),
            symbols=tuple(raw["symbols"]),
            start=dt.date.fromisoformat(raw["start"]),
            end=dt.date.fromisoformat(raw["end"]),
        )
        return request, bool(data.get("finished"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
