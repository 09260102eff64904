"""rlx-tui's command line: no sub-command opens the dashboard; sub-commands run headless.

Exit codes (also in ``--help`` and the README):
  0  success
  1  unexpected internal error (a bug: see the log file)
  2  bad usage or bad input (flags, dates, names, .env, data directory)
  3  connection or credentials failure
  4  incomplete: partitions failed, quarantined or missing; certificate refused
  5  certificate not verified: it fails, or its signer is unknown (not pinned)
  6  not enough disk space (a full disk, whatever the command)
  130 interrupted (Ctrl-C, SIGTERM or SIGHUP; or the output pipe closed); the next run resumes

Hostile input (see SECURITY.md): every setting is checked before use, the data
directory is never left through a link, and nothing but one line reaches the
terminal when something is wrong: no traceback, no secret.

Modules, one job each: :mod:`.parsing` (flags into a request and settings),
:mod:`.commands` and :mod:`.download` (one use case of :mod:`rlx_tui.service`
each), :mod:`.render` (what they print), :mod:`.exits` (exit codes and one-line
errors), :mod:`.program` (the entry point).
"""

from __future__ import annotations

from rlx_tui.cli.exits import (
    EXIT_CONNECTION,
    EXIT_DISK,
    EXIT_INCOMPLETE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VERIFY,
    CliError,
)
from rlx_tui.cli.parsing import build_parser
from rlx_tui.cli.program import entry, main

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_DISK",
    "EXIT_INCOMPLETE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_VERIFY",
    "CliError",
    "build_parser",
    "entry",
    "main",
]
