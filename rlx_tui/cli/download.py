"""``rlx-tui download``: plan the request, run it, print its events, and leave cleanly when interrupted."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from typing import TYPE_CHECKING, Any

import anyio

from rlx_tui import signals
from rlx_tui.cli import render
from rlx_tui.cli.commands import failures_as_cli_errors, planned, source_request
from rlx_tui.cli.exits import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    fatal_exit_code,
)
from rlx_tui.cli.parsing import request_from_args
from rlx_tui.events import Event, RunFinished
from rlx_tui.headless import JsonPrinter, PlainPrinter, RichProgress
from rlx_tui.kinds import PartitionState
from rlx_tui.logs import logger
from rlx_tui.service import RunHandle, Workspace, leave_if_transfers_stuck, open_workspace, start_run
from rlx_tui.service.plans import prepare_request
from rlx_tui.settings import Settings

if TYPE_CHECKING:
    from rlx_tui.sources.base import Listing


def cmd_download(args: argparse.Namespace, settings: Settings) -> int:
    request = request_from_args(args)
    with open_workspace(settings) as ws:
        request = source_request(ws, args, request)
        with failures_as_cli_errors():
            request, listing, note = prepare_request(ws, request)
        if note:
            render.say(f"rlx-tui: {note}")
        if args.detach and not args.dry_run:  # the run goes on in a process of its own
            from rlx_tui.runs.commands import cmd_download_detached

            return cmd_download_detached(args, settings, request)
        handle = start_run(ws, request, force_disk=args.force)  # a run starts: the service is asked again
        with failures_as_cli_errors():
            methods = ws.transfer_methods(request.tables)
        render.notices(ws.notices())
        if args.dry_run:
            summary = planned(ws, request, retry_quarantined=args.retry_quarantined, listing=listing)
            render.plan(summary, args.json)
            if methods and not args.json:
                print("transfer: " + ", ".join(f"{t} via {m}" for t, m in methods.items()))
            if summary.budget_problem:
                raise CliError(summary.budget_problem, EXIT_USAGE)
            return EXIT_OK
        printer = _printer(args.json)
        gc.freeze()  # the imports and the listing stay: full collections during the run skip them
        try:
            finished, interrupted = anyio.run(_run, ws, handle, listing, args.retry_quarantined, printer)
        finally:
            printer.close()
    if interrupted:
        render.say("rlx-tui: interrupted: nothing partial was kept; run the same command again to resume")
        if not handle.wait_for_transfers_blocking():
            leave_if_transfers_stuck(handle, EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    if finished.fatal:
        render.say(f"rlx-tui: {finished.fatal}")
        return fatal_exit_code(finished.fatal_kind)
    if any(state is not PartitionState.READY for state in finished.counts):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _printer(as_json: bool) -> Any:
    if as_json:
        return JsonPrinter()
    if sys.stdout.isatty():
        return RichProgress()
    return PlainPrinter()


async def _run(
    ws: Workspace, handle: RunHandle, listing: Listing, retry_quarantined: bool, printer: Any
) -> tuple[RunFinished, bool]:
    """Run, printing every event; a signal or a closed output pipe abandons the run (cleaned up)."""
    interrupted = False
    send, receive = anyio.create_memory_object_stream[Event](1000)

    async def consume() -> None:
        nonlocal interrupted
        async with receive:
            async for event in receive:
                try:
                    if isinstance(event, RunFinished):
                        _print_transfer(ws, printer)  # with the run summary, just before it
                    printer(event)
                except BrokenPipeError:  # e.g. `rlx-tui download --json | head -1`
                    interrupted = True
                    render.silence_stdout()
                    handle.stop(abort=True)

    async def watch_signals() -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(*signals.HANDLED) as received:
            async for signum in received:
                interrupted = True
                logger.warning(
                    "{}: stopping, in-flight partitions are cleaned up", signal.Signals(signum).name
                )
                handle.stop(abort=True)
                break

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        tg.start_soon(watch_signals)
        result = await handle.run(send, retry_quarantined=retry_quarantined, listing=listing)
        tg.cancel_scope.cancel()
    return result, interrupted


def _print_transfer(ws: Workspace, printer: Any) -> None:
    totals = ws.transfer_totals()
    if totals is None or totals.bytes == 0:
        return
    if isinstance(printer, JsonPrinter):
        render.transfer_json(totals, printer.stream)
    elif isinstance(printer, RichProgress):
        printer.progress.console.print(render.transfer_line(totals), highlight=False, markup=False)
    else:
        print(render.transfer_line(totals), file=printer.stream, flush=True)
