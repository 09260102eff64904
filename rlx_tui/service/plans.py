"""Plan summary: what a request would fetch, said once for both faces.

:func:`plan_request` lists the source for a request, checks it, clamps it to the
days the source holds (unless told not to), plans it, and returns a
:class:`PlanSummary`: the partitions, the counts, the bytes to fetch, the disk and
budget verdicts. The CLI prints it (``list-inventory``, ``download --dry-run``,
``status``); the dashboard shows it as its estimate line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui.engine.plan import PlanError, build_plan
from rlx_tui.engine.policy import disk_needed
from rlx_tui.events import PlannedPartition
from rlx_tui.kinds import PartitionState
from rlx_tui.partitions import Request
from rlx_tui.service.requests import RequestError, check_plan_size, clamp_to_span

if TYPE_CHECKING:
    from rlx_tui.engine.plan import Plan
    from rlx_tui.service.workspace import Workspace
    from rlx_tui.sources.base import Listing
    from rlx_tui.sources.quota import Usage


def clamp_to_listing(request: Request, listing: Listing) -> tuple[Request, str | None]:
    """``request`` cut to the days the listing holds, and a note saying so (None when unchanged)."""
    return clamp_to_span(request, listing.day_span())


def refetch_bytes(plan: Plan) -> int:
    """Expected bytes of the plan's quarantined partitions: fetched again by a retry."""
    return sum(p.expected_bytes for p in plan.items if p.state is PartitionState.QUARANTINED)


@dataclass(frozen=True)
class PlanSummary:
    """A planned request, ready to show (and, for ``download``, to run: see :mod:`.runs`)."""

    request: Request  # as planned: clamped to the days the source holds
    partitions: tuple[PlannedPartition, ...]
    states: dict[str, int]  # state value -> partitions in it
    to_fetch: int
    expected_bytes: int
    expected_seconds: float
    refetch_bytes: int  # bytes fetched again for quarantined partitions (only with retry_quarantined)
    synthetic: bool
    clamp_note: str | None = None
    free_bytes: int | None = None  # free disk, when measured
    budget_problem: str | None = None  # over --max-gb: the one line saying so
    usage: Usage | None = None
    usage_line: str = ""
    # what the plan was made from: a run of this summary reuses the listing
    listing: Listing | None = field(default=None, repr=False, compare=False)
    plan_summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def disk_short(self) -> bool:
        """Too little free disk for the plan (with the engine's margin), when free disk was measured."""
        if self.free_bytes is None:
            return False
        return disk_needed(self.expected_bytes + self.refetch_bytes) > self.free_bytes

    @property
    def total_bytes(self) -> int:
        """Bytes the run would download: the plan's, plus quarantined partitions fetched again."""
        return self.expected_bytes + self.refetch_bytes

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``list-inventory --json`` and ``download --dry-run --json`` print."""
        return {
            "request": self.request.to_dict(),
            "synthetic": self.synthetic,
            "summary": {**self.plan_summary, "refetch_bytes": self.refetch_bytes},
            "usage": self.usage.to_dict() if self.usage else None,
            "partitions": [
                {
                    "partition": p.key.id,
                    "state": p.state.value,
                    "expected_bytes": p.expected_bytes,
                    "bytes": p.bytes,
                    "rows": p.rows,
                    "reason": p.reason,
                }
                for p in self.partitions
            ],
        }


def prepare_request(
    ws: Workspace, request: Request, *, clamp: bool = True, listing: Listing | None = None
) -> tuple[Request, Listing, str | None]:
    """List the source for ``request``, check the names, clamp it to the days held, check its size.

    Returns the request to plan, the listing, and the note saying it was clamped (or None).
    """
    if listing is None:
        listing = ws.listing(request)
    ws.check_request(request, listing)
    note = None
    if clamp:
        request, note = clamp_to_listing(request, listing)
    check_plan_size(request)
    return request, listing, note


def plan_request(
    ws: Workspace,
    request: Request,
    *,
    clamp: bool = True,
    retry_quarantined: bool = False,
    free_disk: Callable[[Path], int] | None = None,
    with_usage: bool = True,
    listing: Listing | None = None,
) -> PlanSummary:
    """List, check, clamp and plan ``request``.

    Raises :class:`RequestError` (bad names, too large, a plan the data directory
    refuses) and :class:`~rlx_tui.kinds.SourceError` (the source failed).
    """
    from rlx_tui.sources.quota import budget_problem

    request, listing, note = prepare_request(ws, request, clamp=clamp, listing=listing)
    try:
        # the planner alone, not an engine: building one starts a run (the service's per-table
        # download answers are forgotten), which a plan, asked on every selection change, must not do
        plan = build_plan(request, listing, ws.store, ws.info.name, ws.settings.workers)
    except PlanError as exc:
        raise RequestError(str(exc)) from None
    again = refetch_bytes(plan) if retry_quarantined else 0
    usage, usage_line = ws.usage() if with_usage else (None, "")
    summary = plan.summary()
    states: dict[str, int] = {}
    for item in plan.items:
        states[item.state.value] = states.get(item.state.value, 0) + 1
    return PlanSummary(
        request=request,
        partitions=plan.items,
        states=states,
        to_fetch=len(plan.to_fetch),
        expected_bytes=plan.expected_bytes,
        expected_seconds=plan.expected_seconds,
        refetch_bytes=again,
        synthetic=ws.info.synthetic,
        clamp_note=note,
        free_bytes=free_disk(ws.data_dir) if free_disk is not None else None,
        budget_problem=budget_problem(plan.expected_bytes + again, ws.settings.max_gb),
        usage=usage,
        usage_line=usage_line,
        listing=listing,
        plan_summary=summary,
    )
