"""The entry point: settings, data directory and log file first, then the command; every failure one line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from rlx_tui import signals
from rlx_tui.cli.exits import (
    EXIT_CONNECTION,
    EXIT_DISK,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    os_failure,
)
from rlx_tui.cli.parsing import build_parser, settings_from_args, verify_data_dir
from rlx_tui.cli.render import say, silence_stdout
from rlx_tui.logs import current_log, logger, quiet_start, setup_logging
from rlx_tui.safety import printable
from rlx_tui.service.effects import library_effects
from rlx_tui.service.errors import DataDirError, FileRefused, NoSpace, is_demo_lake_failure
from rlx_tui.settings import Settings, SettingsError, redact

STOPPED_CLEANLY = "stopped cleanly, nothing partial kept; run the same command again to resume"


def run_tui(settings: Settings, *, foreground: bool = False) -> int:
    from rlx_tui.service.workspace import source_started_early

    # The demo lake's server (~1 s to import moto and load its seed) starts before Textual is imported.
    with source_started_early(settings):
        from rlx_tui.tui.app import run_app

        return run_app(settings, foreground=foreground)


def _start(args: argparse.Namespace) -> tuple[Settings, tuple[Any, ...]]:
    """Settings, the data directory and the log file, in that order, before any command runs."""
    settings = settings_from_args(args)
    if args.command == "verify":  # reads only: the certificate's own data directory, never created
        log_home = verify_data_dir(args, settings)
        try:
            if log_home is None:
                raise FileNotFoundError("no data directory to log into")
            setup_logging(log_home, settings.log_level, settings.secrets, create=False)
        except OSError:
            quiet_start()  # no usable log there: verify still works, it writes nothing
        return settings, settings.secrets
    from rlx_tui.service.workspace import prepare_data_dir  # staging: not for --help

    try:
        prepare_data_dir(settings.data_dir)
    except NoSpace as exc:
        raise CliError(str(exc), EXIT_DISK) from None
    setup_logging(settings.data_dir, settings.log_level, settings.secrets)
    return settings, settings.secrets


def _run(args: argparse.Namespace, context: dict[str, Any]) -> int:
    from rlx_tui.cli.commands import COMMANDS

    settings, context["secrets"] = _start(args)
    context["log"] = True
    local_only = args.command in ("verify", "validate", "stop", "pause", "resume", "logs") or (
        args.command == "status" and args.start is None and args.end is None
    )
    for notice in () if local_only else settings.notices:  # about the source: only where one is used
        say(notice)
    if args.command is None:
        return run_tui(settings, foreground=bool(getattr(args, "foreground", False)))
    return COMMANDS[args.command](args, settings)


def _log_failed_code(code: int) -> int:
    """A command that succeeded although its log could not be written on a full disk still says so."""
    log = current_log()
    failure = log.failure if log is not None else None
    if code == EXIT_OK and failure is not None and failure.errno in (errno.ENOSPC, errno.EDQUOT):
        say("rlx-tui: no space left for the log file (data/logs): free space in the data directory")
        return EXIT_DISK
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlx-tui`` console script."""
    quiet_start()  # loguru's default handler prints tracebacks with variable values: gone first
    signals.install()
    try:
        with library_effects():  # lakeapi's output kept off the terminal until the command ends
            return _main(argv)
    except KeyboardInterrupt:  # a signal while an error was being reported
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    context: dict[str, Any] = {"secrets": (), "log": False}
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return _log_failed_code(_run(args, context))
    except SystemExit as exc:  # argparse (--help, --version, one-line usage errors)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP (signals.Interrupted)
        name = exc.name if isinstance(exc, signals.Interrupted) else "SIGINT"
        say(f"rlx-tui: interrupted ({name}): {STOPPED_CLEANLY}")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `rlx-tui list-inventory | head -1`
        silence_stdout()
        return EXIT_INTERRUPTED
    except (SettingsError, DataDirError, FileRefused) as exc:
        say(f"rlx-tui: {redact(str(exc), context['secrets'])}")
        return EXIT_USAGE
    except CliError as exc:
        say(f"rlx-tui: {redact(str(exc), context['secrets'])}")
        return exc.code
    except OSError as exc:
        error = os_failure(exc)
        if error.code == EXIT_INTERNAL:
            logger.opt(exception=exc).error("filesystem error")
        say(f"rlx-tui: {redact(str(error), context['secrets'])}")
        return error.code
    except Exception as exc:
        if is_demo_lake_failure(exc):  # the embedded lake did not start: its log has the why
            logger.opt(exception=exc).error("demo lake")
            first = printable(str(exc).splitlines()[0] if str(exc) else "no reason given", 200)
            say(f"rlx-tui: the demo lake could not be started ({first}); details in data/logs/rlx-tui.log")
            return EXIT_CONNECTION
        logger.opt(exception=exc).error("unexpected error")
        where = "details in data/logs/rlx-tui.log" if context["log"] else "no log file was open yet"
        text = redact(str(exc), context["secrets"])[:200]
        say(f"rlx-tui: unexpected error ({type(exc).__name__}: {text!r}); {where}")
        return EXIT_INTERNAL


def entry() -> NoReturn:
    """The console script: :func:`main`, then leave without waiting for threads a signal abandoned.

    After an interruption every ``finally`` has run (the demo lake is stopped,
    temporary files are gone); a library thread still blocked on the network
    (a thread pool's worker waiting on a silent socket) must not hold the exit
    for its whole timeout.
    """
    code = main()
    gc.freeze()  # nothing is collected at exit: the interpreter's last collections skip the heap
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if code == EXIT_INTERRUPTED and any(t.is_alive() for t in stuck):
        with contextlib.suppress(Exception):
            logger.complete()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)
