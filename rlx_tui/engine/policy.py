"""The engine's rules that other layers read too: disk margin, validators per core, backoff, refusals."""

from __future__ import annotations

import os
import random

from rlx_tui.kinds import FatalKind
from rlx_tui.settings import RetryPolicy

DISK_MARGIN = 1.10  # ask for 10 % more than the plan expects


def disk_needed(expected_bytes: int) -> int:
    """Free bytes a plan of ``expected_bytes`` needs before it starts (with :data:`DISK_MARGIN`)."""
    return int(expected_bytes * DISK_MARGIN)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_validators(cores: int | None = None) -> int:
    """One validator up to 3 cores (the fetch threads and the demo lake need the rest), two from 4 up."""
    cores = usable_cores() if cores is None else cores
    return 2 if cores >= 4 else 1


class RunRefused(Exception):
    """The run cannot start; the message is the one line to show, ``kind`` says why."""

    def __init__(self, message: str, kind: FatalKind) -> None:
        super().__init__(message)
        self.kind = kind


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> tuple[float, float]:
    """Full jitter: a delay drawn uniformly from [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = policy.ceiling(attempt)
    return rng.uniform(0.0, ceiling), ceiling


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first non-group exception inside a (nested) exception group."""
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
