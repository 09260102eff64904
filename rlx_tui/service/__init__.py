"""The use cases both faces drive: one data directory, one source, one set of rules.

The CLI and the dashboard call what this package exports and render the typed
results; neither imports lakeapi, the staging layout, the certificate package or
the engine's internals (an import-linter contract in ``pyproject.toml`` checks it).

- :mod:`~rlx_tui.service.requests`: dates, sizes, defaults, name hints (pure).
- :mod:`~rlx_tui.service.workspace`: a data directory and its source.
- :mod:`~rlx_tui.service.errors`: the failures a face shows.
"""

from __future__ import annotations

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
from rlx_tui.service.plans import PlanSummary, clamp_to_listing, free_bytes, plan_request, refetch_bytes
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
from rlx_tui.service.workspace import Discovery, Workspace, open_workspace, prepare_data_dir

__all__ = [
    "DEFAULT_EXCHANGES",
    "DEFAULT_SYMBOLS",
    "DEFAULT_TABLES",
    "CertifyFailed",
    "CertifyProblem",
    "DataDirError",
    "DateProblem",
    "Discovery",
    "FileRefused",
    "NoSpace",
    "PlanSummary",
    "RequestError",
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
    "free_bytes",
    "is_demo_lake_failure",
    "latest_complete_day",
    "make_request",
    "name_hint",
    "open_workspace",
    "plan_request",
    "prepare_data_dir",
    "refetch_bytes",
    "request_size",
]
