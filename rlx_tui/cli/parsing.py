"""The command line's grammar: argument types, options, sub-commands, and what they become.

Everything here turns text into checked values (dates, names, paths, a request,
waivers, settings); nothing talks to the source or the disk beyond reading .env.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rlx_tui import __version__
from rlx_tui.cli.exits import EXIT_CODES_HELP, EXIT_USAGE, CliError
from rlx_tui.datadir import DataDirError, resolve_data_dir
from rlx_tui.limits import MAX_NAMES
from rlx_tui.partitions import PartitionKey, Request, Waiver, check_name
from rlx_tui.runs import arguments as run_commands
from rlx_tui.safety import UnsafeText, check_text, shown
from rlx_tui.service.requests import DEFAULT_TABLES, RequestError, make_request
from rlx_tui.settings import Settings, load_settings

_FINGERPRINT = re.compile(r"^(sha256:)?[0-9a-fA-F]{64}$")
MAX_REASON_CHARS = 500


def iso_date(value: str) -> dt.date:
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
        req.add_argument("--start", type=iso_date, help="first UTC day, YYYY-MM-DD")
        req.add_argument("--end", type=iso_date, help="last UTC day, YYYY-MM-DD, inclusive")


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
    parser.add_argument(
        "--foreground",
        action="store_true",
        help="dashboard only: a run started there runs inside the dashboard's process and stops with it "
        "(by default it runs in a background process of its own that outlives the terminal)",
    )
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
    run_commands.add_detach_option(download)
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
    run_commands.add_run_parsers(lambda name, help_text: add(name, help_text, request=False))
    return parser


# -- what the arguments become ---------------------------------------------------------------
def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings: .env and the environment, overridden by the flags given."""
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


def verify_data_dir(args: argparse.Namespace, settings: Settings) -> Path | None:
    """verify's data directory: --data-dir, else the one holding the certificate (None: no usable one)."""
    if args.data_dir:
        return settings.data_dir
    try:
        found: Path = resolve_data_dir(args.certificate.resolve().parent.parent)
    except (OSError, RuntimeError, DataDirError):
        return None
    return found


def request_from_args(
    args: argparse.Namespace,
    waivers: tuple[Waiver, ...] = (),
    default_tables: tuple[str, ...] = DEFAULT_TABLES,
) -> Request:
    """The checked request the flags name (tables not named: ``default_tables``)."""
    try:
        return make_request(
            args.start,
            args.end,
            tables=args.tables,
            symbols=args.symbols,
            exchanges=args.exchanges,
            default_tables=default_tables,
            waivers=waivers,
        )
    except RequestError as exc:
        raise CliError(str(exc)) from None


def parse_waivers(values: Sequence[str], by: str | None) -> tuple[Waiver, ...]:
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


def key_filter(args: argparse.Namespace) -> Callable[[PartitionKey], bool]:
    """The partitions the filter flags (names, --start, --end) keep; none given: all of them."""

    def keep(key: PartitionKey) -> bool:
        return (
            (not args.tables or key.table in args.tables)
            and (not args.symbols or key.symbol in args.symbols)
            and (not args.exchanges or key.exchange in args.exchanges)
            and (args.start is None or key.day >= args.start)
            and (args.end is None or key.day <= args.end)
        )

    return keep
