"""The engine with the service's rules: a download budget, and bytes paid twice marked as such."""

from __future__ import annotations

from typing import Any

from rlx_tui.engine.plan import Plan
from rlx_tui.engine.run import Engine, RunRefused
from rlx_tui.kinds import FatalKind
from rlx_tui.partitions import Request
from rlx_tui.sources.quota import budget_problem


class ServiceEngine(Engine):
    """The budget is checked with the disk preflight, after quarantined partitions were queued
    again (they cost their bytes again)."""

    def __init__(self, *args: Any, max_gb: float | None = None, meter: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_gb = max_gb
        self.meter = meter

    def check_disk(self, plan: Plan) -> None:
        problem = budget_problem(plan.expected_bytes, self.max_gb)
        if problem is not None:
            raise RunRefused(problem, FatalKind.BUDGET)
        super().check_disk(plan)

    def requeue_quarantined(self, request: Request) -> int:
        manifests = self.quarantined(request)  # each sidecar read once, for the keys and the removal
        keys = [manifest.key for manifest in manifests]
        if self.meter is not None:
            self.meter.mark_paid(keys)  # their bytes were paid for once already
        relist = getattr(self.source, "relist", None)
        if relist is not None:
            relist(keys)  # a day quarantined may have been replaced at the source since
        return self.requeue(manifests)
