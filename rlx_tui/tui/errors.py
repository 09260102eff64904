"""Errors as the user reads them: one short line, and the next step to take."""

from __future__ import annotations

from rlx_tui.kinds import ErrorKind, FatalKind, SourceError
from rlx_tui.logs import logger
from rlx_tui.service import CertifyFailed, RequestError, UnreadableCertificate
from rlx_tui.tui.messages import TaskFailed

EXPECTED_ERRORS = (SourceError, RequestError, UnreadableCertificate, CertifyFailed)

# What to do after a run stopped on a fatal error, by error kind.
RUN_NEXT_STEPS: dict[FatalKind, str] = {
    FatalKind.ACCESS_DENIED: "fix the credentials in .env, then restart rlx-tui",
    FatalKind.DISK_FULL: "free space or choose another --data-dir, then press s to resume",
    FatalKind.UPGRADE: "upgrade rlx-tui, then start again",
    FatalKind.TRANSIENT: "check the network or --endpoint-url, then press s to resume",
    FatalKind.PLAN: "choose another --data-dir or another request",
    FatalKind.BUSY: (
        "close the other rlx-tui using this data directory (or use another --data-dir), then press s"
    ),
    FatalKind.BUDGET: "narrow the request or raise the budget (--max-gb / RLX_MAX_GB)",
}
# What to do when the source cannot be listed, by error kind.
DISCOVERY_STEPS: dict[ErrorKind, str] = {
    ErrorKind.ACCESS_DENIED: "fix the credentials in .env (aws_access_key_id, aws_secret_access_key)",
    ErrorKind.TRANSIENT: "check the network (or --endpoint-url)",
    ErrorKind.UPGRADE: "upgrade rlx-tui",
}


def one_line(error: BaseException | None) -> str:
    """The first line of ``error``; the exception's type is named unless it is an expected failure."""
    if error is None:
        return "unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text.removesuffix(", retrying")  # the engine's wording; here nothing retries by itself
    return text if isinstance(error, EXPECTED_ERRORS) else f"{type(error).__name__}: {text}"


def log_failure(message: TaskFailed) -> str:
    """Log a failed background job (an expected error as a warning, anything else with its
    traceback, which goes to the log file only); returns its one line for the screen."""
    error, task = message.error, message.task
    text = one_line(error)
    if isinstance(error, EXPECTED_ERRORS):
        logger.warning("{} failed: {}", task.value, text)
    else:
        logger.opt(exception=error).error("{} failed: {}", task.value, text)
    return text


def discovery_hint(error: BaseException | None) -> str:
    """What to check when listing the source failed with ``error``."""
    if isinstance(error, SourceError):
        return DISCOVERY_STEPS.get(error.kind, "check the settings")
    return "check the settings and the network"


def run_next_step(fatal_kind: FatalKind | None) -> str:
    """What to do after a run stopped on a fatal error of ``fatal_kind``."""
    if fatal_kind is None:
        return "press s to try again"
    return RUN_NEXT_STEPS.get(fatal_kind, "press s to try again")
