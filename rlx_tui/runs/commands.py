"""Headless faces of detached runs: `download --detach`, status, stop, pause, resume, logs.

Each ``cmd_*`` function takes the parsed arguments and the settings (as the CLI's
commands do), prints its lines and returns an exit code; their flags are in
:mod:`rlx_tui.runs.arguments` (light, for the CLI's parser). Nothing here
knows the service: a run is reached through :mod:`.liveness` and :mod:`.client`,
its past through the journal. ``python -m rlx_tui.runs.commands`` is the same
set with the CLI's source flags (`rlx-tui` dispatches `stop`, `pause`, `resume`, `logs` and
`download --detach` here; tests call this module directly).

Exit codes (those of ``rlx-tui``): 0 done; 2 no live run to act on, or one
already running; 3 the run cannot be reached or could not start; 4 the run
ended with partitions not ready (``stop`` waiting for a run that then failed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from rlx_tui.events import Event, Throughput
from rlx_tui.headless import describe
from rlx_tui.partitions import Request
from rlx_tui.runs import arguments
from rlx_tui.runs.client import RunClient, RunEnded, RunError
from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.journal import JournalEntry, encode_line, read_journal
from rlx_tui.runs.launcher import RunAlreadyLive, RunStartError, start_detached
from rlx_tui.runs.lines import ended_summary, host_line, not_live_line
from rlx_tui.runs.liveness import Condition, RunView, clock, describe_dead_run, inspect_run, latest_run
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.record import Outcome
from rlx_tui.runs.summary import Progress
from rlx_tui.settings import Settings
from rlx_tui.units import human_bytes, human_seconds

EXIT_OK = 0
EXIT_NO_RUN = 2
EXIT_UNREACHABLE = 3
EXIT_INCOMPLETE = 4
STOP_WAIT_SECONDS = 600.0  # `stop` waits this long for the partitions in flight, then says so
ENDING_SECONDS = 30.0  # after its journal's last line, how long a host may take to write run.json and exit


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- finding the run ----------------------------------------------------------------------------------
def latest_view(data_dir: Path) -> RunView | None:
    """The newest run of ``data_dir`` and its condition (None before the first run)."""
    paths = latest_run(data_dir)
    return None if paths is None else anyio.run(inspect_run, paths)


def _live_client(data_dir: Path, codec: EventCodec = DEFAULT_CODEC) -> tuple[RunClient, RunView]:
    """The client of the live run; raises _NoRun with the line to show when there is none."""
    view = latest_view(data_dir)
    if view is None:
        raise _NoRun(f"no run in {data_dir} yet: start one with `rlx-tui download --detach ...`")
    if view.condition is Condition.LIVE:
        assert view.record is not None
        return RunClient(view.paths, expected_pid=view.record.pid, codec=codec), view
    raise _NoRun(f"no live run in {data_dir}: {not_live_line(view, codec)}")


class _NoRun(Exception):
    pass


# -- download --detach --------------------------------------------------------------------------------
def cmd_download_detached(
    args: argparse.Namespace, settings: Settings, request: Request, *, out: TextIO | None = None
) -> int:
    """Start ``request`` detached (``args.retry_quarantined``, ``args.force``, ``args.json``)."""
    out = out or sys.stdout
    try:
        info = start_detached(
            settings,
            request,
            retry_quarantined=bool(getattr(args, "retry_quarantined", False)),
            force_disk=bool(getattr(args, "force", False)),
        )
    except RunStartError as exc:
        _say(f"rlx-tui: {exc}")
        return EXIT_NO_RUN if isinstance(exc, RunAlreadyLive) else EXIT_UNREACHABLE
    if getattr(args, "json", False):
        payload = {"run_id": info.run_id, "number": info.number, "pid": info.pid}
        payload["journal"] = str(info.paths.journal)
        print(json.dumps(payload), file=out, flush=True)
    else:
        print(
            f"run {info.number} started in the background (pid {info.pid}); "
            "follow it with `rlx-tui status`, `rlx-tui logs --follow`, stop it with `rlx-tui stop`",
            file=out,
            flush=True,
        )
    return EXIT_OK


# -- status -------------------------------------------------------------------------------------------
def progress_lines(number: int, progress: Progress, pid: int | None = None) -> list[str]:
    """What ``status`` prints for a live run."""
    counts = ", ".join(f"{n} {state}" for state, n in sorted(progress.counts.items()) if state != "ready")
    since = f" since {clock(progress.started_at)}" if progress.started_at else ""
    who = f" (pid {pid}{since})" if pid else ""
    lines = [f"run {number} {progress.state}{who}"]
    lines.append(
        f"  partitions: {progress.ready} of {progress.total} ready" + (f" ({counts})" if counts else "")
    )
    lines.append(
        f"  bytes: {human_bytes(progress.done_bytes)} of {human_bytes(progress.expected_bytes)} "
        f"({human_bytes(progress.fetched_bytes)} fetched by this run)"
    )
    lines.append(
        f"  rate: {human_bytes(progress.bytes_per_s)}/s, {progress.rows_per_s:,.0f} rows/s; "
        f"ETA {human_seconds(progress.eta_seconds)}; {progress.retries} retries"
    )
    if progress.workers:
        lines.append("  workers:")
        for worker in progress.workers:
            lines.append(f"    {worker.worker}: {worker.partition} {worker.phase} (attempt {worker.attempt})")
    else:
        lines.append("  workers: idle")
    return lines


def run_report(data_dir: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The latest run as a JSON-ready dict (None before the first run) and as ``status`` lines.

    For the CLI's ``status``, which adds them to the store's zone counts.
    """
    view = latest_view(data_dir)
    if view is None:
        return None, [f"no run in {data_dir} yet"]
    if view.condition is Condition.LIVE and view.status is not None:
        status = view.status
        lines = progress_lines(view.paths.number, status.progress, status.pid)
        if status.viewers:
            lines.append(f"  viewers: {status.viewers}")
        return {"condition": "live", **status.to_dict()}, lines
    line = not_live_line(view)
    if view.condition is Condition.ENDED:
        summary = ended_summary(view.paths)
    else:
        summary = describe_dead_run(view.paths)[1]
    payload = {
        "condition": view.condition.value,
        "run_id": view.paths.run_id,
        "number": view.paths.number,
        "message": line,
        "reason": view.reason,
        "progress": summary.progress().to_dict(),
    }
    return payload, [line]


def cmd_status(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None) -> int:
    """The latest run of the data directory: a live run's figures, or how the last one ended or died."""
    out = out or sys.stdout
    payload, lines = run_report(settings.data_dir)
    if getattr(args, "json", False):
        print(json.dumps({"run": payload}, default=str), file=out, flush=True)
    else:
        for line in lines:
            print(line, file=out, flush=True)
    return EXIT_OK


# -- stop, pause, resume ------------------------------------------------------------------------------
def _steer(settings: Settings, act: Callable[[RunClient], Any], out: TextIO) -> tuple[int, RunClient | None]:
    try:
        client, _view = _live_client(settings.data_dir)
    except _NoRun as exc:
        _say(f"rlx-tui: {exc}")
        return EXIT_NO_RUN, None
    try:
        answer = anyio.run(act, client)
    except RunError as exc:
        _say(f"rlx-tui: {exc}")
        return EXIT_UNREACHABLE, None
    print(f"run {client.paths.number}: {answer.message}", file=out, flush=True)
    return EXIT_OK, client


def cmd_pause(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None) -> int:
    return _steer(settings, lambda client: client.pause(), out or sys.stdout)[0]


def cmd_resume(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None) -> int:
    return _steer(settings, lambda client: client.resume(), out or sys.stdout)[0]


def cmd_stop(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None) -> int:
    """Stop (``--abort``) the live run, then wait for its end unless ``--no-wait``."""
    out = out or sys.stdout
    abort = bool(getattr(args, "abort", False))
    code, client = _steer(settings, lambda c: c.stop(abort=abort), out)
    if client is None or getattr(args, "no_wait", False):
        return code

    async def wait_for_end() -> JournalEntry | None:
        with anyio.move_on_after(STOP_WAIT_SECONDS):
            async with client.subscribe(from_seq=0) as entries:
                last = None
                async for entry in entries:
                    last = entry
                return last
        return None

    try:
        anyio.run(wait_for_end)
    except RunEnded:  # it ended between our two connections
        pass
    except RunError as exc:  # it died, hangs, or is not who it claims
        _say(f"rlx-tui: {exc}")
        return EXIT_UNREACHABLE
    view = anyio.run(_settled, client.paths, ENDING_SECONDS)
    if view.condition is Condition.LIVE:
        _say(f"rlx-tui: run {client.paths.number} has not ended after {STOP_WAIT_SECONDS:g} s")
        return EXIT_UNREACHABLE
    print(not_live_line(view), file=out, flush=True)
    failed = view.record is not None and view.record.outcome is Outcome.FAILED
    return EXIT_INCOMPLETE if failed else EXIT_OK


async def _settled(paths: RunPaths, patience: float) -> RunView:
    """The run's view once it is no longer live (its journal has ended: run.json follows at once).

    A host that has removed its socket but not yet exited reads as unresponsive for a moment:
    that is waited out too, so a clean stop is reported as stopped.
    """
    view = await inspect_run(paths)
    with anyio.move_on_after(patience):
        while view.condition in (Condition.LIVE, Condition.UNRESPONSIVE):
            await anyio.sleep(0.1)
            view = await inspect_run(paths)
    return view


# -- logs -------------------------------------------------------------------------------------------
def entry_line(entry: JournalEntry, as_json: bool, codec: EventCodec = DEFAULT_CODEC) -> str | None:
    """One printed line for a journal entry: the journal's own JSON line, or a human one (or None)."""
    if as_json:
        body: dict[str, Any] = {"seq": entry.seq, "ts": entry.ts}
        if entry.live:
            body["live"] = True
        if entry.host is not None:
            body["host"] = {"state": entry.host.state, **entry.host.details}
        elif entry.event is not None:
            body["event"] = codec.encode(entry.event)
        return encode_line(body).decode().rstrip("\n")
    when = clock(entry.ts)
    if entry.host is not None:
        return f"{when} {host_line(entry.host.state, entry.host.details)}"
    event: Event | None = entry.event
    if event is None:
        return None
    if isinstance(event, Throughput):
        return (
            f"{when} progress {event.done_partitions}/{event.total_partitions} partitions, "
            f"{human_bytes(event.bytes_per_s)}/s, ETA {human_seconds(event.eta_seconds)}"
        )
    text = describe(event)
    return f"{when} {text}" if text else None


def cmd_logs(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None) -> int:
    """The latest run's journal; with ``--follow`` and a live run, then its new events until the end."""
    out = out or sys.stdout
    as_json = bool(getattr(args, "json", False))
    paths = latest_run(settings.data_dir)
    if paths is None:
        _say(f"rlx-tui: no run in {settings.data_dir} yet")
        return EXIT_NO_RUN
    try:
        last_seq = _print_journal(paths, as_json, out)
    except (OSError, ValueError) as exc:  # a link, a directory or a FIFO where the journal should be
        _say(f"rlx-tui: cannot read the journal of run {paths.number}: {exc}")
        return EXIT_UNREACHABLE
    if not getattr(args, "follow", False):
        return EXIT_OK
    view = anyio.run(inspect_run, paths)
    if view.condition is not Condition.LIVE or view.record is None:
        _say(f"rlx-tui: {not_live_line(view)}")
        return EXIT_OK
    client = RunClient(paths, expected_pid=view.record.pid)

    async def follow() -> None:
        async with client.subscribe(from_seq=last_seq + 1) as entries:
            async for entry in entries:
                if entry.live and not as_json:
                    continue  # the plain form shows the journal's ticks only (one a minute)
                line = entry_line(entry, as_json)
                if line:
                    print(line, file=out, flush=True)

    try:
        anyio.run(follow)
    except RunError as exc:
        _say(f"rlx-tui: {exc}")
        return EXIT_UNREACHABLE
    return EXIT_OK


def _print_journal(paths: RunPaths, as_json: bool, out: TextIO) -> int:
    try:
        read = read_journal(paths.data_dir, paths.journal)
    except FileNotFoundError:
        return 0
    for entry in read.entries:
        line = entry_line(entry, as_json)
        if line:
            print(line, file=out, flush=True)
    return read.last_seq


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "stop": cmd_stop,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "logs": cmd_logs,
}


# -- python -m rlx_tui.runs.commands -----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m rlx_tui.runs.commands``."""
    parser = argparse.ArgumentParser(prog="python -m rlx_tui.runs.commands", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        child = sub.add_parser(name, help=help_text, description=help_text)
        child.add_argument("--source", default=None)
        child.add_argument("--data-dir", default=None)
        child.add_argument("--endpoint-url", default=None)
        child.add_argument("--env-file", type=Path, default=None)
        child.add_argument("--workers", type=int, default=None)
        child.add_argument("--json", action="store_true")
        return child

    arguments.add_run_parsers(add)
    add("status", "the latest run: live figures, or how it ended or died")
    download = add("download", "start a run (only --detach here)")
    arguments.add_detach_option(download)
    download.add_argument("--tables", required=True)
    download.add_argument("--exchanges", default="BINANCE")
    download.add_argument("--symbols", default="BTC-USDT")
    download.add_argument("--start", type=dt.date.fromisoformat, required=True)
    download.add_argument("--end", type=dt.date.fromisoformat, required=True)
    download.add_argument("--retry-quarantined", action="store_true")
    download.add_argument("--force", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlx_tui.runs.commands COMMAND ...`` (settings from flags and ``--env-file``)."""
    from rlx_tui.settings import SettingsError, load_settings

    args = build_parser().parse_args(argv)
    overrides = {
        "source": args.source,
        "data_dir": args.data_dir,
        "endpoint_url": args.endpoint_url,
        "workers": args.workers,
    }
    try:
        settings = load_settings(env_file=args.env_file, overrides=overrides)
    except SettingsError as exc:
        _say(f"rlx-tui: {exc}")
        return 2
    if args.command == "status":
        return cmd_status(args, settings)
    if args.command == "download":
        if not args.detach:
            _say("rlx-tui: only `download --detach` here; `rlx-tui download` runs in the foreground")
            return 2
        request = Request(
            tables=tuple(args.tables.split(",")),
            exchanges=tuple(args.exchanges.split(",")),
            symbols=tuple(args.symbols.split(",")),
            start=args.start,
            end=args.end,
        )
        return cmd_download_detached(args, settings, request)
    return COMMANDS[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
