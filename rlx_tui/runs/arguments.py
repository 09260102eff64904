"""The flags of the run commands (``download --detach``, ``attach``, ``stop``, ``pause``, ``logs``, ...).

Only :mod:`argparse` here, so that building the CLI's parser (``--help``) imports
nothing of the run machinery.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_detach_option(download: argparse.ArgumentParser) -> None:
    """``download --detach``: the run goes on in a background process of its own."""
    download.add_argument(
        "--detach",
        action="store_true",
        help="run in the background, not tied to this terminal (then: status, logs --follow, stop)",
    )


def add_run_parsers(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The run commands; ``add(name, help)`` makes a subparser with the CLI's common flags."""
    stop = add("stop", "stop the live run after the partitions in flight (or --abort them)")
    stop.add_argument("--abort", action="store_true", help="discard the partitions in flight instead")
    stop.add_argument("--no-wait", action="store_true", help="return at once; do not wait for the end")
    add("attach", "open the dashboard on the live run (q detaches: the run goes on)")
    add("pause", "pause the live run: the partitions in flight finish, no new one starts")
    add("resume", "resume the paused live run")
    logs = add("logs", "print the events of the latest run (--json: its journal lines)")
    logs.add_argument("--follow", "-f", action="store_true", help="then follow a live run until it ends")
