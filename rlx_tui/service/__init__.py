"""The use cases both faces drive: one data directory, one source, one set of rules.

The CLI and the dashboard call what this package exports and render the typed
results; neither imports lakeapi, the staging layout, the certificate package or
the engine (import-linter contracts in ``pyproject.toml``, run by ``make test``).

- :mod:`~rlx_tui.service.requests`: dates, sizes, defaults, name hints (pure).
- :mod:`~rlx_tui.service.workspace`: a data directory and its source; discovery.
- :mod:`~rlx_tui.service.connection`: test the connection.
- :mod:`~rlx_tui.service.plans`: plan summary (estimate, dry run, inventory).
- :mod:`~rlx_tui.service.run`: start, pause, resume, stop a run; wait for its transfers.
- :mod:`~rlx_tui.service.certify`: certify (with its gate) and verify.
- :mod:`~rlx_tui.service.store`: status, validate, one partition's sidecar.
- :mod:`~rlx_tui.service.errors`: the failures a face shows.
- :mod:`~rlx_tui.service.effects`: lakeapi's process-wide side effects, held for a face's lifetime.

Heavy modules (the source, lakeapi, polars) load when a workspace is opened or a
use case runs, not when this package is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlx_tui.service.errors import (
        CertifyFailed,
        CertifyProblem,
        DataDirError,
        FileRefused,
        NoSpace,
        SourceError,
        StoreBusy,
        UnreadableCertificate,
        UnsafePathError,
        is_demo_lake_failure,
    )
    from rlx_tui.service.plans import PlanSummary, clamp_to_listing, plan_request, refetch_bytes
    from rlx_tui.service.requests import (
        DEFAULT_EXCHANGES,
        DEFAULT_SYMBOLS,
        DEFAULT_TABLES,
        DateProblem,
        RequestError,
        check_dates,
        check_plan_size,
        clamp_to_span,
        date_problem,
        latest_complete_day,
        make_request,
        name_hint,
        request_size,
    )
    from rlx_tui.service.run import EXIT_GRACE_SECONDS, RunHandle, leave_if_transfers_stuck, start_run
    from rlx_tui.service.workspace import (
        Discovery,
        Workspace,
        open_workspace,
        prepare_data_dir,
        source_started_early,
    )

# Where each name lives: a name's module is imported when the name is first used (PEP 562), so
# ``rlx_tui.service.errors`` or ``.requests`` alone does not load the engine, staging or anyio.
_HOMES: dict[str, str] = {
    "CertifyFailed": "rlx_tui.service.errors",
    "CertifyProblem": "rlx_tui.service.errors",
    "DataDirError": "rlx_tui.service.errors",
    "FileRefused": "rlx_tui.service.errors",
    "NoSpace": "rlx_tui.service.errors",
    "SourceError": "rlx_tui.service.errors",
    "StoreBusy": "rlx_tui.service.errors",
    "UnreadableCertificate": "rlx_tui.service.errors",
    "UnsafePathError": "rlx_tui.service.errors",
    "is_demo_lake_failure": "rlx_tui.service.errors",
    "PlanSummary": "rlx_tui.service.plans",
    "clamp_to_listing": "rlx_tui.service.plans",
    "plan_request": "rlx_tui.service.plans",
    "refetch_bytes": "rlx_tui.service.plans",
    "DEFAULT_EXCHANGES": "rlx_tui.service.requests",
    "DEFAULT_SYMBOLS": "rlx_tui.service.requests",
    "DEFAULT_TABLES": "rlx_tui.service.requests",
    "DateProblem": "rlx_tui.service.requests",
    "RequestError": "rlx_tui.service.requests",
    "check_dates": "rlx_tui.service.requests",
    "check_plan_size": "rlx_tui.service.requests",
    "clamp_to_span": "rlx_tui.service.requests",
    "date_problem": "rlx_tui.service.requests",
    "latest_complete_day": "rlx_tui.service.requests",
    "make_request": "rlx_tui.service.requests",
    "name_hint": "rlx_tui.service.requests",
    "request_size": "rlx_tui.service.requests",
    "EXIT_GRACE_SECONDS": "rlx_tui.service.run",
    "RunHandle": "rlx_tui.service.run",
    "leave_if_transfers_stuck": "rlx_tui.service.run",
    "start_run": "rlx_tui.service.run",
    "Discovery": "rlx_tui.service.workspace",
    "Workspace": "rlx_tui.service.workspace",
    "open_workspace": "rlx_tui.service.workspace",
    "prepare_data_dir": "rlx_tui.service.workspace",
    "source_started_early": "rlx_tui.service.workspace",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_EXCHANGES",
    "DEFAULT_SYMBOLS",
    "DEFAULT_TABLES",
    "EXIT_GRACE_SECONDS",
    "CertifyFailed",
    "CertifyProblem",
    "DataDirError",
    "DateProblem",
    "Discovery",
    "FileRefused",
    "NoSpace",
    "PlanSummary",
    "RequestError",
    "RunHandle",
    "SourceError",
    "StoreBusy",
    "UnreadableCertificate",
    "UnsafePathError",
    "Workspace",
    "check_dates",
    "check_plan_size",
    "clamp_to_listing",
    "clamp_to_span",
    "date_problem",
    "is_demo_lake_failure",
    "latest_complete_day",
    "leave_if_transfers_stuck",
    "make_request",
    "name_hint",
    "open_workspace",
    "plan_request",
    "prepare_data_dir",
    "refetch_bytes",
    "request_size",
    "source_started_early",
    "start_run",
]
