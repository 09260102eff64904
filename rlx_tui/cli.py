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
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import getpass
import json
import os
import re
import shutil
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import anyio
from loguru import logger

from rlx_tui import __version__, signals
from rlx_tui.datadir import DataDirError, check_layout, check_usable, resolve_data_dir
from rlx_tui.fs_guard import FileRefused, UnsafePathError
from rlx_tui.limits import MAX_NAMES, MAX_PLAN_PARTITIONS, MIN_FREE_BYTES
from rlx_tui.logs import current_log, quiet_start, setup_logging
from rlx_tui.partitions import KNOWN_TABLES, PartitionKey, Request, Waiver, check_name
from rlx_tui.safety import UnsafeText, check_text, printable, shown
from rlx_tui.settings import Settings, SettingsError, load_settings, redact
from rlx_tui.units import human_bytes

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_INCOMPLETE = 4
EXIT_VERIFY = 5
EXIT_DISK = 6
EXIT_INTERRUPTED = signals.EXIT_INTERRUPTED

EXIT_CODES_HELP = f"""exit codes:
  0    success
  1    unexpected internal error (see data/logs/rlx-tui.log)
  2    bad usage or bad input (flags, dates, names, .env, data directory, links in it)
  3    connection or credentials failure
  4    incomplete: partitions failed, quarantined or missing; certificate refused
  5    certificate not verified (fails, or signed by a key nobody pinned)
  6    not enough disk space
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP, or the output pipe closed); the next run resumes

A request may span at most {MAX_PLAN_PARTITIONS:,} partitions (after clamping to the days
the source holds) and name at most {MAX_NAMES} tables, symbols or exchanges each.
"""
_FINGERPRINT = re.compile(r"^(sha256:)?[0-9a-fA-F]{64}$")
MAX_REASON_CHARS = 500
STOPPED_CLEANLY = "stopped cleanly, nothing partial kept; run the same command again to resume"


class CliError(Exception):
    """A one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- parsing -------------------------------------------------------------------------
def _iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2024-01-31") from None


def _name_list(kind: str) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
        if not names:
            raise argparse.ArgumentTypeError(f"no {kind} given")
        if len(names) > MAX_NAMES:
            raise argparse.ArgumentTypeError(f"{len(names)} {kind}s named, at most {MAX_NAMES} per request")
        for name in names:
            try:
                check_name(kind, name)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        return names

    return parse


def _path(what: str) -> Callable[[str], Path]:
    """A path argument without control characters (it is shown in messages and opened)."""

    def parse(value: str) -> Path:
        try:
            check_text(what, value)
        except UnsafeText as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not value.strip():
            raise argparse.ArgumentTypeError(f"{what} is empty")
        return Path(value)

    return parse


def _fingerprint(value: str) -> str:
    if not _FINGERPRINT.match(value.strip()):
        raise argparse.ArgumentTypeError(
            f"{shown(value)} is not a key fingerprint: use sha256: followed by 64 hex digits"
        )
    value = value.strip().lower()
    return value if value.startswith("sha256:") else "sha256:" + value


def _workers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number not in (1, 2):
        raise argparse.ArgumentTypeError(
            f"{number} workers refused: Crypto Lake asks lakeapi users for at most 2 (use 1 or 2)"
        )
    return number


def _positive_gb(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of GB") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: the budget must be a positive number of GB")
    return number


def _common(parser: argparse.ArgumentParser, request: bool = True, top: bool = False) -> None:
    """Options accepted before or after the command: ``rlx-tui --source demo status`` works too.

    On sub-commands the defaults are suppressed, so they never overwrite a
    value given before the command.
    """

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("source and storage")
    group.add_argument(
        "--source", choices=("lake", "sample", "demo"), default=default(None), help="where data comes from"
    )
    group.add_argument("--data-dir", type=str, default=default(None), help="data directory (default: ./data)")
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        help="S3 endpoint URL (private mirror, or a running demo lake)",
    )
    group.add_argument(
        "--env-file",
        type=_path("--env-file"),
        default=default(Path(".env")),
        help="credentials file (default: .env)",
    )
    group.add_argument(
        "--workers", type=_workers, default=default(None), help="concurrent downloads, 1 or 2 (default 2)"
    )
    group.add_argument(
        "--log-level", default=default(None), help="log file level: DEBUG, INFO, WARNING, ERROR"
    )
    group.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    group.add_argument(
        "--refresh",
        action="store_true",
        default=default(False),
        help="list the source again (no cached listing)",
    )
    if request:
        req = parser.add_argument_group("request (end date inclusive)")
        req.add_argument(
            "--tables",
            type=_name_list("table"),
            help="comma list, any table the source lists (default: trades,book,book_delta_v2 where held)",
        )
        req.add_argument("--symbols", type=_name_list("symbol"), help="comma list (default: BTC-USDT)")
        req.add_argument("--exchanges", type=_name_list("exchange"), help="comma list (default: BINANCE)")
        req.add_argument("--start", type=_iso_date, help="first UTC day, YYYY-MM-DD")
        req.add_argument("--end", type=_iso_date, help="last UTC day, YYYY-MM-DD, inclusive")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the cause and where help is), not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rlx-tui",
        description="Acquire Crypto Lake market data, validate every file and certify the data set. "
        "Without a command, opens the dashboard.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rlx-tui {__version__}")
    _common(parser, request=False, top=True)
    parser.set_defaults(start=None, end=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, request: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(sub, request=request)
        return sub

    add("test-connection", "check that the source answers and accepts the credentials", request=False)
    add("list-inventory", "list what the source holds for the request, with sizes and states")
    download = add("download", "fetch, validate and stage every partition of the request")
    download.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    download.add_argument("--force", action="store_true", help="start even if free disk looks too small")
    download.add_argument(
        "--retry-quarantined", action="store_true", help="fetch quarantined partitions again"
    )
    download.add_argument(
        "--max-gb",
        type=_positive_gb,
        default=None,
        help="download budget: refuse a plan larger than this many GB (exit 2; setting RLX_MAX_GB)",
    )
    add("validate", "re-validate staged partitions (all, or those matching the filters)")
    add("status", "zone counts, bytes, quarantine reasons and (with a range) the remaining work")
    certify = add("certify", "issue a data readiness certificate for the request (or say what blocks it)")
    certify.add_argument(
        "--waive",
        action="append",
        default=[],
        metavar="PARTITION=REASON",
        help="exclude a day missing at the source, e.g. 'trades/BINANCE/BTC-USDT/2024-01-03=exchange outage'",
    )
    certify.add_argument("--by", default=None, help="who grants the waivers (default: your user name)")
    certify.add_argument(
        "--signing-key", type=_path("--signing-key"), help="ed25519 private key (PEM) to sign with"
    )
    verify = add(
        "verify",
        "verify a certificate: signature, completeness (complete) and checksums (valid)",
        request=False,
    )
    verify.add_argument("certificate", type=_path("certificate"), help="path to a cert-*.json file")
    verify.add_argument(
        "--fingerprint",
        type=_fingerprint,
        help="pin the signer: the sha256:... fingerprint of the key you trust (see SECURITY.md)",
    )
    return parser


# -- helpers ----------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "source": args.source,
        "data_dir": args.data_dir,
        "endpoint_url": args.endpoint_url,
        "workers": args.workers,
        "log_level": args.log_level,
        "refresh": args.refresh or None,
        "max_gb": getattr(args, "max_gb", None),
    }
    return load_settings(env_file=args.env_file, overrides=overrides)


def _prepare_data_dir(path: Path) -> None:
    """Create and check the data directory for a command that writes: usable, no links, some space."""
    check_usable(path)
    check_layout(path)
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise CliError(
            f"no space left in {path} ({human_bytes(free)} free, rlx-tui needs at least "
            f"{human_bytes(MIN_FREE_BYTES)} to run): free space or choose another --data-dir",
            EXIT_DISK,
        )


def _verify_data_dir(args: argparse.Namespace, settings: Settings) -> Path | None:
    """verify's data directory: --data-dir, else the one holding the certificate (None: no usable one)."""
    if args.data_dir:
        return settings.data_dir
    try:
        return resolve_data_dir(args.certificate.resolve().parent.parent)
    except (OSError, RuntimeError, DataDirError):
        return None


def _request(args: argparse.Namespace, waivers: tuple[Waiver, ...] = ()) -> Request:
    from rlx_tui.service import RequestError, check_dates

    if args.start is None or args.end is None:
        raise CliError(
            "--start and --end are required (ISO dates, end inclusive), "
            "e.g. --start 2024-01-01 --end 2024-01-03"
        )
    try:
        check_dates(args.start, args.end)
    except RequestError as exc:
        raise CliError(str(exc)) from None
    return Request(
        tables=args.tables or KNOWN_TABLES,
        exchanges=args.exchanges or ("BINANCE",),
        symbols=args.symbols or ("BTC-USDT",),
        start=args.start,
        end=args.end,
        waivers=waivers,
    )


def _source_request(ws: Any, args: argparse.Namespace, request: Request) -> Request:
    """``request`` with the default tables narrowed to those the source holds (when none were named)."""
    from dataclasses import replace

    from rlx_tui.sources.base import SourceError

    if args.tables:
        return request
    try:
        return replace(request, tables=ws.default_tables())
    except SourceError as exc:
        raise _source_failure(exc) from None


def _emit_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _source_failure(exc: Exception) -> CliError:
    """One line for a failure talking to the source (a single attempt: nothing is retried here)."""
    from rlx_tui.sources.base import ErrorKind, SourceError

    if isinstance(exc, SourceError):
        if exc.kind is ErrorKind.DISK_FULL:
            return CliError(exc.cause + ": free space or choose another --data-dir", EXIT_DISK)
        if exc.kind is ErrorKind.LOCAL_IO:
            return CliError(exc.cause, EXIT_USAGE)
        if exc.kind is ErrorKind.TRANSIENT:
            return CliError(
                f"{exc.cause}: the source did not answer; check --endpoint-url and the network, "
                "then run the command again",
                EXIT_CONNECTION,
            )
        return CliError(f"{exc.cause}", EXIT_CONNECTION)
    return CliError(str(exc), EXIT_CONNECTION)


def _clamped(ws: Any, request: Request, listing: Any) -> Request:
    """The request cut to the days the source holds (said on stderr), within the stated plan size."""
    from rlx_tui.service import RequestError, check_plan_size, clamp_to_listing

    clamped, note = clamp_to_listing(request, listing)
    if note:
        print(f"rlx-tui: {note}", file=sys.stderr)
    try:
        check_plan_size(clamped)
    except RequestError as exc:
        raise CliError(str(exc)) from None
    return clamped


# -- commands ---------------------------------------------------------------------------
def cmd_test_connection(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service import open_workspace
    from rlx_tui.sources.base import SourceError

    with open_workspace(settings) as ws:
        try:
            message = ws.source.check_connection()
            methods = _transfer_methods(ws, ("trades",))
        except SourceError as exc:
            raise _source_failure(exc) from None
        usage, usage_line = ws.usage()
        if args.json:
            _emit_json(
                {
                    "ok": True,
                    "source": settings.source,
                    "message": message,
                    "transfer_methods": methods,
                    "usage": usage.to_dict() if usage else None,
                    "notices": ws.notices(),
                }
            )
        else:
            print(message)
            if methods:
                print(
                    "transfer: "
                    + ", ".join(f"{t} via {m}" for t, m in methods.items())
                    + " (the service's answer)"
                )
            print(usage_line)
            for notice in ws.notices():
                print(f"warning: {notice}", file=sys.stderr)
    return EXIT_OK


def _transfer_methods(ws: Any, tables: Sequence[str]) -> dict[str, str]:
    """How the service wants each table downloaded (raises SourceError(UPGRADE) if it refuses)."""
    methods = getattr(ws.source, "transfer_methods", None)
    return methods(tables) if methods is not None else {}


def _listing_and_check(ws: Any, request: Request) -> Any:
    from rlx_tui.service import RequestError
    from rlx_tui.sources.base import SourceError

    try:
        listing = ws.listing(request)
        ws.check_request(request, listing)
    except SourceError as exc:
        raise _source_failure(exc) from None
    except RequestError as exc:
        raise CliError(str(exc)) from None
    return listing


def _print_plan(
    plan: Any, as_json: bool, synthetic: bool, ws: Any = None, retry_quarantined: bool = False
) -> None:
    from rlx_tui.service import refetch_bytes
    from rlx_tui.units import human_bytes, human_seconds

    usage, usage_line = ws.usage() if ws is not None else (None, "")
    again = refetch_bytes(plan) if retry_quarantined else 0
    if as_json:
        _emit_json(
            {
                "request": plan.request.to_dict(),
                "synthetic": synthetic,
                "summary": {**plan.summary(), "refetch_bytes": again},
                "usage": usage.to_dict() if usage else None,
                "partitions": [
                    {
                        "partition": p.key.id,
                        "state": p.state.value,
                        "expected_bytes": p.expected_bytes,
                        "bytes": p.bytes,
                        "rows": p.rows,
                        "reason": p.reason,
                    }
                    for p in plan.items
                ],
            }
        )
        return
    if synthetic:
        print("SYNTHETIC: demo lake data, not real market data")
    for p in plan.items:
        size = human_bytes(p.bytes or p.expected_bytes)
        note = f"  ({p.reason})" if p.reason else ""
        print(f"{p.key.id:<48} {p.state.value:<18} {size:>10}{printable(note)}")
    summary = plan.summary()
    states = ", ".join(f"{v} {k}" for k, v in sorted(summary["states"].items()))
    print(
        f"{summary['partitions']} partitions ({states}); to fetch: {summary['to_fetch']}, "
        f"~{human_bytes(plan.expected_bytes)}, ~{human_seconds(plan.expected_seconds)}"
    )
    if again:
        print(f"retry: {human_bytes(again)} more, fetched again for quarantined partitions (metered again)")
    if usage_line:
        print(usage_line)


def cmd_list_inventory(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service import open_workspace

    request = _request(args)
    with open_workspace(settings) as ws:
        request = _source_request(ws, args, request)
        listing = _listing_and_check(ws, request)
        request = _clamped(ws, request, listing)
        _print_plan(_plan(ws, request, listing), args.json, ws.source.info.synthetic, ws)
    return EXIT_OK


def _plan(ws: Any, request: Request, listing: Any) -> Any:
    from rlx_tui.engine.plan import PlanError

    try:
        return ws.engine().plan(request, listing)
    except PlanError as exc:
        raise CliError(str(exc)) from None


def cmd_download(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.events import Event, RunFinished
    from rlx_tui.headless import JsonPrinter, PlainPrinter, RichProgress
    from rlx_tui.service import open_workspace, refetch_bytes
    from rlx_tui.sources.base import SourceError
    from rlx_tui.sources.quota import budget_problem

    request = _request(args)
    with open_workspace(settings) as ws:
        request = _source_request(ws, args, request)
        listing = _listing_and_check(ws, request)
        request = _clamped(ws, request, listing)
        engine = ws.engine(force_disk=args.force)  # a run starts: the service is asked again per table
        try:
            methods = _transfer_methods(ws, request.tables)
        except SourceError as exc:
            raise _source_failure(exc) from None
        for notice in ws.notices():
            print(f"warning: {notice}", file=sys.stderr)
        if args.dry_run:
            plan = _plan(ws, request, listing)
            _print_plan(plan, args.json, ws.source.info.synthetic, ws, args.retry_quarantined)
            if methods and not args.json:
                print("transfer: " + ", ".join(f"{t} via {m}" for t, m in methods.items()))
            problem = budget_problem(
                plan.expected_bytes + (refetch_bytes(plan) if args.retry_quarantined else 0), settings.max_gb
            )
            if problem:
                raise CliError(problem, EXIT_USAGE)
            return EXIT_OK
        if args.json:
            printer: Any = JsonPrinter()
        elif sys.stdout.isatty():
            printer = RichProgress()
        else:
            printer = PlainPrinter()
        interrupted = False

        async def main() -> RunFinished:
            nonlocal interrupted
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
                            _silence_stdout()
                            engine.stop(abort=True)

            async def watch_signals() -> None:
                nonlocal interrupted
                with anyio.open_signal_receiver(*signals.HANDLED) as received:
                    async for signum in received:
                        interrupted = True
                        logger.warning(
                            "{}: stopping, in-flight partitions are cleaned up", signal.Signals(signum).name
                        )
                        engine.stop(abort=True)
                        break

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                tg.start_soon(watch_signals)
                result = await engine.run(
                    request, send, retry_quarantined=args.retry_quarantined, listing=listing
                )
                tg.cancel_scope.cancel()
            return result

        try:
            finished = anyio.run(main)
        finally:
            printer.close()
    if interrupted:
        _say("rlx-tui: interrupted: nothing partial was kept; run the same command again to resume")
        _exit_after_transfers(engine, EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    if finished.fatal:
        from rlx_tui.kinds import FatalKind

        codes = {
            FatalKind.DISK_FULL: EXIT_DISK,
            FatalKind.PLAN: EXIT_USAGE,
            FatalKind.BUSY: EXIT_USAGE,
            FatalKind.BUDGET: EXIT_USAGE,
            FatalKind.LOCAL_IO: EXIT_USAGE,
        }
        _say(f"rlx-tui: {finished.fatal}")
        return codes.get(finished.fatal_kind, EXIT_CONNECTION) if finished.fatal_kind else EXIT_CONNECTION
    bad = {k: v for k, v in finished.counts.items() if k not in ("ready",)}
    if bad:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _print_transfer(ws: Any, printer: Any) -> None:
    """The run's bytes at the source, and how many were fetched again (retries, quarantined partitions)."""
    from rlx_tui.headless import JsonPrinter, RichProgress
    from rlx_tui.units import human_bytes

    totals = ws.transfer_totals()
    if totals is None or totals.bytes == 0:
        return
    if isinstance(printer, JsonPrinter):
        print(json.dumps({"event": "transfer", **totals.to_dict()}), file=printer.stream, flush=True)
        return
    again = (
        f"; {human_bytes(totals.again_bytes)} of it fetched again (retries "
        f"{human_bytes(totals.retry_bytes)}, quarantined partitions {human_bytes(totals.refetch_bytes)})"
        if totals.again_bytes
        else "; nothing fetched twice"
    )
    line = f"transfer: {human_bytes(totals.bytes)} from the source{again}"
    if isinstance(printer, RichProgress):
        printer.progress.console.print(line, highlight=False, markup=False)
    else:
        print(line, file=printer.stream, flush=True)


def _exit_after_transfers(engine: Any, code: int, wait_seconds: float = 10.0) -> None:
    """Give abandoned fetch threads a moment to notice the cancel flag; then leave without them.

    They can only write into attempt directories that were already discarded,
    but a daemon thread caught inside pyarrow while the interpreter finalises
    aborts the process, so if one is still busy the exit skips finalisation.
    """
    deadline = time.monotonic() + wait_seconds
    while engine.active_transfers and time.monotonic() < deadline:
        time.sleep(0.05)
    if engine.active_transfers:
        logger.warning("{} abandoned transfer(s) still running at exit", engine.active_transfers)
        logger.complete()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _silence_stdout() -> None:
    """The reader of our output went away: send the rest (and the final flush) nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _say(line: str) -> None:
    """One line on stderr; a terminal that is gone (SIGHUP, a closed pipe) is not an error."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _filters(args: argparse.Namespace) -> Callable[[PartitionKey], bool]:
    def keep(key: PartitionKey) -> bool:
        return (
            (not args.tables or key.table in args.tables)
            and (not args.symbols or key.symbol in args.symbols)
            and (not args.exchanges or key.exchange in args.exchanges)
            and (args.start is None or key.day >= args.start)
            and (args.end is None or key.day <= args.end)
        )

    return keep


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.engine.filing import validate_and_file
    from rlx_tui.staging import StagingStore, StoreBusy, Zone

    store = StagingStore(settings.data_dir)
    keep = _filters(args)
    results = []
    try:
        with store.lock():
            store.recover()
            # Every zone is listed before anything moves: a partition that moves from ready to
            # quarantine must not be met (and counted) a second time in quarantine.
            todo = [
                manifest
                for zone in (Zone.RAW, Zone.VALIDATING, Zone.READY, Zone.QUARANTINE)
                for manifest in store.iter_zone(zone)
                if keep(manifest.key) and manifest.has_data
            ]
            for manifest in todo:
                filed = validate_and_file(store, manifest)
                results.append((manifest.zone, filed))
                if not args.json:
                    moved = f"{manifest.zone.value} -> {filed.zone.value}"
                    reason = f": {printable(filed.quarantine_reason)}" if filed.quarantine_reason else ""
                    print(f"{filed.key.id:<48} {moved}{reason}")
    except StoreBusy as exc:
        raise CliError(str(exc)) from None
    quarantined = [f for _, f in results if f.zone is Zone.QUARANTINE]
    if args.json:
        _emit_json(
            {
                "validated": len(results),
                "ready": len(results) - len(quarantined),
                "quarantined": [{"partition": f.key.id, "reason": f.quarantine_reason} for f in quarantined],
                "moves": [{"partition": f.key.id, "from": z.value, "to": f.zone.value} for z, f in results],
            }
        )
    else:
        print(
            f"validated {len(results)} partition(s): {len(results) - len(quarantined)} ready, "
            f"{len(quarantined)} quarantined"
        )
    return EXIT_INCOMPLETE if quarantined else EXIT_OK


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.service import open_workspace
    from rlx_tui.staging import StagingStore
    from rlx_tui.units import human_bytes

    store = StagingStore(settings.data_dir)
    status = store.status()
    plan_summary = None
    if args.start is not None or args.end is not None:
        request = _request(args)
        with open_workspace(settings) as ws:
            listing = _listing_and_check(ws, request)
            plan_summary = _plan(ws, _clamped(ws, request, listing), listing).summary()
    if args.json:
        payload = status.to_dict()
        payload["data_dir"] = str(settings.data_dir)
        if plan_summary is not None:
            payload["plan"] = plan_summary
        _emit_json(payload)
        return EXIT_OK
    print(f"data directory: {settings.data_dir}")
    for zone, stats in status.zones.items():
        print(f"  {zone.value:<11} {stats.partitions:>6} partitions {human_bytes(stats.bytes):>12}")
    if status.quarantined:
        print("quarantined:")
        for key, reason in status.quarantined:
            print(f"  {key.id}: {printable(reason)}")  # a sidecar may come from elsewhere
    if plan_summary is not None:
        states = ", ".join(f"{v} {k}" for k, v in sorted(plan_summary["states"].items()))
        print(
            f"request: {plan_summary['partitions']} partitions ({states}); remaining to fetch: "
            f"{plan_summary['to_fetch']} (~{human_bytes(plan_summary['expected_bytes'])})"
        )
    return EXIT_OK


def _parse_waivers(values: Sequence[str], by: str | None) -> tuple[Waiver, ...]:
    """--waive PARTITION=REASON and --by: checked text, as they go into the certificate's files."""
    try:
        who = check_text("--by", by or getpass.getuser(), limit=100)
    except UnsafeText as exc:
        raise CliError(str(exc)) from None
    except (KeyError, OSError):  # no user name for this uid
        raise CliError(
            "--by is needed: who grants the waivers (no user name known for this account)"
        ) from None
    waivers = []
    for value in values:
        try:
            check_text("--waive", value, limit=MAX_REASON_CHARS)
        except UnsafeText as exc:
            raise CliError(str(exc)) from None
        partition, sep, reason = value.partition("=")
        if not sep or not reason.strip():
            raise CliError(
                f"--waive {shown(value)}: use PARTITION=REASON, "
                "e.g. trades/BINANCE/BTC-USDT/2024-01-03=outage"
            )
        try:
            PartitionKey.from_id(partition.strip())
        except ValueError as exc:
            raise CliError(f"--waive: {exc}") from None
        waivers.append(Waiver(partition.strip(), reason.strip(), who))
    return tuple(waivers)


def cmd_certify(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.certificate import CertificateRefused, ChainError, SigningKeyError, issue_certificate
    from rlx_tui.service import RequestError, check_plan_size, clamp_to_listing, open_workspace

    request = _request(args, _parse_waivers(args.waive, args.by))
    with open_workspace(settings) as ws:
        listing = _listing_and_check(ws, request)
        try:  # no clamping here: a certificate states exactly what was asked
            check_plan_size(request)
        except RequestError as exc:
            held, _ = clamp_to_listing(request, listing)
            raise CliError(f"{exc}; the source holds {held.start} .. {held.end} of it") from None
        missing = [k for k in request.partitions() if k not in listing.objects]
        try:
            issued = issue_certificate(
                settings.data_dir,
                request,
                ws.source.info,
                missing_at_source=missing,
                signing_key_path=args.signing_key,
            )
        except SigningKeyError as exc:  # the --signing-key given (or the data directory's key) is unusable
            raise CliError(str(exc), EXIT_USAGE) from None
        except ChainError as exc:
            raise CliError(str(exc), EXIT_INCOMPLETE) from None
        except CertificateRefused as exc:
            if args.json:
                _emit_json(
                    {
                        "issued": False,
                        "blockers": [
                            {"kind": b.kind, "partition": b.partition_id, "reason": b.reason}
                            for b in exc.blockers
                        ],
                    }
                )
            elif len(exc.blockers) == 1:
                blocker = exc.blockers[0]
                _say(f"rlx-tui: certificate refused: {blocker.kind.replace('_', ' ')}: {blocker}")
            else:
                _say(f"rlx-tui: certificate refused:\n{exc}")
            return EXIT_INCOMPLETE
    if args.json:
        _emit_json(
            {
                "issued": True,
                "id": issued.id,
                "json_path": str(issued.json_path),
                "text_path": str(issued.text_path),
                "digest": issued.digest,
                "fingerprint": issued.fingerprint,
                "partitions": issued.partitions,
                "total_bytes": issued.total_bytes,
                "synthetic": issued.synthetic,
            }
        )
    else:
        print(issued.summary)
        print(f"written: {issued.json_path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from rlx_tui.certificate import verify_certificate

    path: Path = args.certificate
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CliError(f"certificate {path} not found: give the path to a cert-*.json file") from None
    except (OSError, RuntimeError) as exc:
        raise CliError(
            f"certificate {path} cannot be read ({exc}): give the path to a cert-*.json file"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise CliError(f"certificate {path} is not a regular file: give the path to a cert-*.json file")
    data_dir = settings.data_dir if args.data_dir else None
    report = verify_certificate(path, data_dir, trusted_fingerprint=args.fingerprint)
    if args.json:
        _emit_json(report.to_dict())
    else:
        print(report.text())
    return report.exit_code


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "test-connection": cmd_test_connection,
    "list-inventory": cmd_list_inventory,
    "download": cmd_download,
    "validate": cmd_validate,
    "status": cmd_status,
    "certify": cmd_certify,
    "verify": cmd_verify,
}


def run_tui(settings: Settings) -> int:
    from rlx_tui.tui.app import run_app

    return run_app(settings)


def _os_failure(exc: OSError) -> CliError:
    """One line for a filesystem error that reached the top: disk full is 6, links and permissions 2."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CliError(
            "no space left on the device holding the data directory: free space or choose another --data-dir",
            EXIT_DISK,
        )
    if isinstance(exc, UnsafePathError):
        return CliError(str(exc), EXIT_USAGE)
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CliError(
            f"cannot write{where}: {exc.strerror}; check the data directory's permissions and mount",
            EXIT_USAGE,
        )
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENAMETOOLONG):
        return CliError(f"unusable path{where}: {exc.strerror}; choose another --data-dir", EXIT_USAGE)
    return CliError(f"input/output error{where}: {exc.strerror or exc}; check the disk", EXIT_INTERNAL)


def _start(args: argparse.Namespace) -> tuple[Settings, tuple[Any, ...]]:
    """Settings, the data directory and the log file, in that order, before any command runs."""
    settings = _settings(args)
    if args.command == "verify":  # reads only: the certificate's own data directory, never created
        log_home = _verify_data_dir(args, settings)
        try:
            if log_home is None:
                raise FileNotFoundError("no data directory to log into")
            setup_logging(log_home, settings.log_level, settings.secrets, create=False)
        except OSError:
            quiet_start()  # no usable log there: verify still works, it writes nothing
        return settings, settings.secrets
    _prepare_data_dir(settings.data_dir)
    setup_logging(settings.data_dir, settings.log_level, settings.secrets)
    return settings, settings.secrets


def _run(args: argparse.Namespace, context: dict[str, Any]) -> int:
    settings, context["secrets"] = _start(args)
    context["log"] = True
    local_only = args.command in ("verify", "validate") or (
        args.command == "status" and args.start is None and args.end is None
    )
    for notice in () if local_only else settings.notices:  # about the source: only where one is used
        _say(notice)
    if args.command is None:
        return run_tui(settings)
    return COMMANDS[args.command](args, settings)


def _log_failed_code(code: int) -> int:
    """A command that succeeded although its log could not be written on a full disk still says so."""
    log = current_log()
    failure = log.failure if log is not None else None
    if code == EXIT_OK and failure is not None and failure.errno in (errno.ENOSPC, errno.EDQUOT):
        _say("rlx-tui: no space left for the log file (data/logs): free space in the data directory")
        return EXIT_DISK
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlx-tui`` console script."""
    quiet_start()  # loguru's default handler prints tracebacks with variable values: gone first
    signals.install()
    try:
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
        _say(f"rlx-tui: interrupted ({name}): {STOPPED_CLEANLY}")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `rlx-tui list-inventory | head -1`
        _silence_stdout()
        return EXIT_INTERRUPTED
    except (SettingsError, DataDirError, FileRefused) as exc:
        _say(f"rlx-tui: {redact(str(exc), context['secrets'])}")
        return EXIT_USAGE
    except CliError as exc:
        _say(f"rlx-tui: {redact(str(exc), context['secrets'])}")
        return exc.code
    except OSError as exc:
        error = _os_failure(exc)
        if error.code == EXIT_INTERNAL:
            logger.opt(exception=exc).error("filesystem error")
        _say(f"rlx-tui: {redact(str(error), context['secrets'])}")
        return error.code
    except Exception as exc:
        if type(exc).__name__ == "DemoLakeError":  # the embedded lake did not start: its log has the why
            logger.opt(exception=exc).error("demo lake")
            first = printable(str(exc).splitlines()[0] if str(exc) else "no reason given", 200)
            _say(f"rlx-tui: the demo lake could not be started ({first}); details in data/logs/rlx-tui.log")
            return EXIT_CONNECTION
        logger.opt(exception=exc).error("unexpected error")
        where = "details in data/logs/rlx-tui.log" if context["log"] else "no log file was open yet"
        text = redact(str(exc), context["secrets"])[:200]
        _say(f"rlx-tui: unexpected error ({type(exc).__name__}: {text!r}); {where}")
        return EXIT_INTERNAL


def entry() -> NoReturn:
    """The console script: :func:`main`, then leave without waiting for threads a signal abandoned.

    After an interruption every ``finally`` has run (the demo lake is stopped,
    temporary files are gone); a library thread still blocked on the network
    (a thread pool's worker waiting on a silent socket) must not hold the exit
    for its whole timeout.
    """
    code = main()
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if code == EXIT_INTERRUPTED and any(t.is_alive() for t in stuck):
        with contextlib.suppress(Exception):
            logger.complete()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
