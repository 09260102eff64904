"""The headless commands: each parses its flags into a request, calls one use case, renders the result.

``download`` lives in :mod:`.download` (it streams a run's events). New commands
register in :data:`COMMANDS` and get their flags in :func:`~.parsing.build_parser`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rlx_tui.cli import render
from rlx_tui.cli.exits import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, CliError, source_failure
from rlx_tui.cli.parsing import key_filter, parse_waivers, request_from_args
from rlx_tui.partitions import Request
from rlx_tui.service.errors import (
    CertifyFailed,
    CertifyProblem,
    SourceError,
    StoreBusy,
    UnreadableCertificate,
)
from rlx_tui.service.requests import RequestError
from rlx_tui.service.workspace import open_workspace
from rlx_tui.settings import Settings

if TYPE_CHECKING:
    from rlx_tui.service import PlanSummary, Workspace
    from rlx_tui.sources.base import Listing

Command = Callable[[argparse.Namespace, Settings], int]


@contextmanager
def failures_as_cli_errors() -> Iterator[None]:
    """A use case's one-line failures, as the CLI's (source failures get their own exit codes)."""
    try:
        yield
    except SourceError as exc:
        raise source_failure(exc) from None
    except RequestError as exc:
        raise CliError(str(exc)) from None


def source_request(ws: Workspace, args: argparse.Namespace, request: Request) -> Request:
    """``request`` with the default tables narrowed to those the source holds (when none were named)."""
    if args.tables:
        return request
    with failures_as_cli_errors():
        return replace(request, tables=ws.default_tables())


def planned(
    ws: Workspace,
    request: Request,
    *,
    retry_quarantined: bool = False,
    with_usage: bool = True,
    listing: Listing | None = None,
) -> PlanSummary:
    """The plan summary of ``request`` (clamped to the days the source holds, said on stderr)."""
    from rlx_tui.service.plans import plan_request  # the engine's planner: not for a bare status

    with failures_as_cli_errors():
        summary = plan_request(
            ws, request, retry_quarantined=retry_quarantined, with_usage=with_usage, listing=listing
        )
    render.clamp_note(summary)
    return summary


def cmd_test_connection(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service.connection import check_connection

    with open_workspace(settings) as ws:
        with failures_as_cli_errors():
            report = check_connection(ws)
        render.connection(report, settings.source, args.json)
    return EXIT_OK


def cmd_list_inventory(args: argparse.Namespace, settings: Settings) -> int:
    request = request_from_args(args)
    with open_workspace(settings) as ws:
        summary = planned(ws, source_request(ws, args, request))
        render.plan(summary, args.json)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service.store import validate

    try:
        result = validate(settings.data_dir, key_filter(args), None if args.json else render.move)
    except StoreBusy as exc:
        raise CliError(str(exc)) from None
    render.validated(result, args.json)
    return EXIT_INCOMPLETE if result.quarantined else EXIT_OK


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service.store import store_status

    status = store_status(settings.data_dir)
    run: dict[str, Any] | None = None
    run_lines: list[str] = []
    if os.path.lexists(settings.data_dir / "runs"):  # the run machinery (anyio...) only if a run was made
        from rlx_tui.runs.commands import run_report

        run, run_lines = run_report(settings.data_dir)
    summary = None
    if args.start is not None or args.end is not None:
        request = request_from_args(args)
        with open_workspace(settings) as ws:
            summary = planned(ws, request, with_usage=False)
    render.status(settings.data_dir, status, summary, args.json, run=run, run_lines=run_lines)
    return EXIT_OK


def cmd_certify(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service.certify import certify

    request = request_from_args(args, parse_waivers(args.waive, args.by))
    with open_workspace(settings) as ws:
        try:
            with failures_as_cli_errors():
                result = certify(ws, request, signing_key=args.signing_key)
        except CertifyFailed as exc:  # an unusable key is bad input; an edited chain blocks certifying
            code = EXIT_USAGE if exc.problem is CertifyProblem.SIGNING_KEY else EXIT_INCOMPLETE
            raise CliError(str(exc), code) from None
        if result.issued is None:
            render.refused(result, args.json)
            return EXIT_INCOMPLETE
        render.issued(result.issued, args.json)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service.certify import verify

    data_dir = settings.data_dir if args.data_dir else None
    try:
        report = verify(args.certificate, data_dir, fingerprint=args.fingerprint)
    except UnreadableCertificate as exc:
        raise CliError(str(exc)) from None
    if args.json:
        render.emit_json(report.to_dict())
    else:
        print(report.text())
    return int(report.exit_code)


def _download(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.cli.download import cmd_download

    return cmd_download(args, settings)


def _run_command(name: str) -> Command:
    """A command of the live run (:mod:`rlx_tui.runs.commands`), imported when it is used."""

    def command(args: argparse.Namespace, settings: Settings) -> int:
        from rlx_tui.runs.commands import COMMANDS as RUN_COMMANDS

        return RUN_COMMANDS[name](args, settings)

    return command


def cmd_attach(args: argparse.Namespace, settings: Settings) -> int:
    """The dashboard on the data directory's live run; exit 2 with the last run's line if none is live."""
    from rlx_tui.runs.commands import EXIT_NO_RUN, latest_view
    from rlx_tui.runs.lines import not_live_line
    from rlx_tui.runs.liveness import Condition

    view = latest_view(settings.data_dir)
    if view is None or view.condition is not Condition.LIVE:
        why = "no run yet" if view is None else not_live_line(view)
        print(f"rlx-tui: no live run in {settings.data_dir}: {why}", file=sys.stderr, flush=True)
        return EXIT_NO_RUN
    from rlx_tui.cli.program import run_tui

    return run_tui(settings)


COMMANDS: dict[str, Command] = {
    "test-connection": cmd_test_connection,
    "list-inventory": cmd_list_inventory,
    "download": _download,
    "validate": cmd_validate,
    "status": cmd_status,
    "certify": cmd_certify,
    "verify": cmd_verify,
    "attach": cmd_attach,
    "stop": _run_command("stop"),
    "pause": _run_command("pause"),
    "resume": _run_command("resume"),
    "logs": _run_command("logs"),
}
