"""The dashboard's worker results as typed messages: each worker posts one, never a bare result.

A blocking job runs through :func:`in_thread`, an async one through :func:`guarded`,
each started by the screen or widget that owns its part (the selection screen lists
the source, the dashboard screen polls the store, the certify panel certifies, the
verify dialog verifies); either posts its typed result message (or :class:`TaskFailed`)
to that owner, whose ``@on`` handler shows it. A :class:`TaskFailed` its owner does
not handle bubbles up to the app. Nothing is routed by a worker's name, and no result
is typed ``Any``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message

from rlx_tui.partitions import Request

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from rlx_tui.service import Discovery, Workspace
    from rlx_tui.service.certify import CertifyResult, VerifyReport
    from rlx_tui.service.store import StoreStatus

T = TypeVar("T")


class Task(StrEnum):
    """The dashboard's background jobs (also the worker's name and group, for Textual's own view)."""

    OPEN = "open"
    DISCOVER = "discover"
    DISCOVER_EXTRA = "discover-extra"
    ESTIMATE = "estimate"
    ZONES = "zones"
    RUN = "run"
    EVENTS = "events"
    CERTIFY = "certify"
    VERIFY = "verify"
    DRILL = "drill"
    REMEMBER = "remember"
    SHUTDOWN = "shutdown"
    ATTACH = "attach"  # following a detached run
    COMMAND = "run-command"  # a command to a detached run


@dataclass
class WorkspaceOpened(Message):
    workspace: Workspace


@dataclass
class SourceListed(Message):
    discovery: Discovery
    remembered: tuple[Request, bool] | None


@dataclass
class ExtraTablesListed(Message):
    tables: tuple[str, ...]


@dataclass
class Estimated(Message):
    generation: int
    text: str
    warning: bool


@dataclass
class StorePolled(Message):
    status: StoreStatus
    seconds: float


@dataclass
class Certified(Message):
    result: CertifyResult


@dataclass
class Verified(Message):
    report: VerifyReport


@dataclass
class PartitionLoaded(Message):
    partition_id: str
    manifest: dict[str, Any] | None  # the sidecar, as JSON


@dataclass
class TaskFailed(Message):
    task: Task
    error: BaseException


def in_thread(owner: DOMNode, task: Task, work: Callable[[], T], done: Callable[[T], Message] | None) -> None:
    """Run blocking ``work`` in a thread worker of ``owner``; post ``done(result)`` (or
    :class:`TaskFailed`) to ``owner``."""

    def job() -> None:
        try:
            result = work()
        except Exception as exc:
            owner.post_message(TaskFailed(task, exc))
            return
        if done is not None:
            owner.post_message(done(result))

    owner.run_worker(job, name=task.value, group=task.value, thread=True, exit_on_error=False)


def guarded(owner: DOMNode, task: Task, work: Awaitable[Any]) -> None:
    """Run the coroutine ``work`` as an async worker of ``owner``; an error in it posts
    :class:`TaskFailed` to ``owner``."""

    async def job() -> None:
        try:
            await work
        except Exception as exc:
            owner.post_message(TaskFailed(task, exc))

    owner.run_worker(job(), name=task.value, group=task.value, exit_on_error=False)


__all__ = [
    "Certified",
    "Estimated",
    "ExtraTablesListed",
    "PartitionLoaded",
    "SourceListed",
    "StorePolled",
    "Task",
    "TaskFailed",
    "Verified",
    "WorkspaceOpened",
    "guarded",
    "in_thread",
]
