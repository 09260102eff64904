"""The blocking jobs behind the selection screen: list what the source holds, estimate a request.

They run in thread workers of the screen that shows their outcome
(:class:`~.selection.SelectionScreen`; the dashboard screen reads a partition's sidecar
with :func:`load_manifest`) and touch no widget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rlx_tui.partitions import KNOWN_TABLES, LAKE_TABLES, PartitionKey, Request
from rlx_tui.service import Discovery, RequestError, SourceError, Workspace, latest_complete_day, plan_request
from rlx_tui.service import store as store_use_cases
from rlx_tui.tui.last_request import last_request_path, read_last_request
from rlx_tui.tui.text import human_bytes, human_seconds

# Other Crypto Lake tables, offered when the source lists them.
EXTRA_TABLES: tuple[str, ...] = tuple(t for t in LAKE_TABLES if t not in KNOWN_TABLES)
DISCOVERY_START = dt.date(2017, 1, 1)

WorkspaceFactory = Callable[[], AbstractContextManager[Workspace]]


def discover_known_tables(workspace: Workspace, today: dt.date | None, refresh: bool = False) -> Discovery:
    """Blocking: what the source holds, every table it lists (``refresh`` forgets cached listings first)."""
    if refresh:
        workspace.refresh()
    return workspace.discover(DISCOVERY_START, latest_complete_day(today))


def discover_listing(
    workspace: Workspace, today: dt.date | None, refresh: bool, remember: bool, data_dir: Path
) -> tuple[Discovery, tuple[Request, bool] | None]:
    """Blocking: what the source holds, and the last request (when the options keep one)."""
    discovery = discover_known_tables(workspace, today, refresh)
    remembered = read_last_request(last_request_path(data_dir)) if remember else None
    return discovery, remembered


def discover_extra_tables(workspace: Workspace, today: dt.date | None) -> tuple[str, ...]:
    """Blocking: which other Crypto Lake tables the source lists (one listing each; failures ignored)."""
    last = latest_complete_day(today)
    found = []
    for table in EXTRA_TABLES:
        try:
            if workspace.discover(DISCOVERY_START, last, (table,)).tables:
                found.append(table)
        except SourceError:
            continue
    return tuple(found)


def source_label(workspace: Workspace) -> str:
    """The source's name as the selection screen shows it (synthetic data is flagged)."""
    info = workspace.source.info
    label = f"{info.name} source"
    return label + (" · SYNTHETIC demo data" if info.synthetic else "")


def estimate(workspace: Workspace, request: Request, free_disk: Callable[[Path], int]) -> tuple[str, bool]:
    """Blocking: plan ``request`` (lists the source for it) and measure free disk.

    Returns the summary line and whether it is a warning (refused request, not enough disk).
    """
    try:  # the dashboard's pickers already keep the request to the days the source holds
        summary = plan_request(workspace, request, clamp=False, free_disk=free_disk)
    except RequestError as exc:
        return str(exc), True
    except SourceError as exc:
        return f"cannot list the source for this request: {exc.cause}", True
    bits = [f"{len(summary.partitions)} partitions"]
    detail = ", ".join(f"{count} {state}" for state, count in sorted(summary.states.items()))
    bits[0] += f" ({detail})"
    bits.append(f"~{human_bytes(summary.expected_bytes)} to fetch")
    bits.append(f"~{human_seconds(summary.expected_seconds)}")
    bits.append(f"free disk {human_bytes(summary.free_bytes or 0)}")
    usage = summary.usage
    if usage is not None:
        bits.append(f"used {human_bytes(int(usage.downloaded_gb * 1e9))} in {usage.timeframe_days or '?'} d")
    text = " · ".join(bits)
    if summary.disk_short:
        text += " · NOT ENOUGH DISK: free space or choose another --data-dir"
    if summary.budget_problem:
        text += f" · OVER BUDGET: {summary.budget_problem}"
    return text, summary.disk_short or summary.budget_problem is not None


def estimate_tagged(
    workspace: Workspace, request: Request, generation: int, free_disk: Callable[[Path], int]
) -> tuple[int, str, bool]:
    """Blocking: :func:`estimate`, tagged with the selection's generation (only the latest is shown)."""
    text, warning = estimate(workspace, request, free_disk)
    return generation, text, warning


def load_manifest(data_dir: Path, partition_id: str) -> tuple[str, dict[str, Any] | None]:
    """Blocking: the store's manifest of one partition (None when it holds nothing for it)."""
    return partition_id, store_use_cases.load_manifest(data_dir, PartitionKey.from_id(partition_id))
