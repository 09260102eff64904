"""Errors as the user reads them: one short line, and the next step to take."""

from __future__ import annotations

from rlx_tui.service import RequestError
from rlx_tui.sources.base import ErrorKind, SourceError

# What to do after a run stopped on a fatal error, by error kind.
RUN_NEXT_STEPS = {
    ErrorKind.ACCESS_DENIED.value: "fix the credentials in .env, then restart rlx-tui",
    ErrorKind.DISK_FULL.value: "free space or choose another --data-dir, then press s to resume",
    ErrorKind.UPGRADE.value: "upgrade rlx-tui, then start again",
    ErrorKind.TRANSIENT.value: "check the network or --endpoint-url, then press s to resume",
    "plan": "choose another --data-dir or another request",
    "busy": "close the other rlx-tui using this data directory (or use another --data-dir), then press s",
    "budget": "narrow the request or raise the budget (--max-gb / RLX_MAX_GB)",
}
# What to do when the source cannot be listed, by error kind.
DISCOVERY_STEPS = {
    ErrorKind.ACCESS_DENIED.value: "fix the credentials in .env (aws_access_key_id, aws_secret_access_key)",
    ErrorKind.TRANSIENT.value: "check the network (or --endpoint-url)",
    ErrorKind.UPGRADE.value: "upgrade rlx-tui",
}


def one_line(error: BaseException | None) -> str:
    """The first line of ``error``; the exception's type is named unless it is an expected failure."""
    if error is None:
        return "unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text.removesuffix(", retrying")  # the engine's wording; here nothing retries by itself
    return text if isinstance(error, SourceError | RequestError) else f"{type(error).__name__}: {text}"


def discovery_hint(error: BaseException | None) -> str:
    """What to check when listing the source failed with ``error``."""
    if isinstance(error, SourceError):
        return DISCOVERY_STEPS.get(error.kind.value, "check the settings")
    return "check the settings and the network"


def run_next_step(fatal_kind: str | None) -> str:
    """What to do after a run stopped on a fatal error of ``fatal_kind``."""
    return RUN_NEXT_STEPS.get(fatal_kind or "", "press s to try again")
