"""How the hostile tests attack: a sandbox around a data directory, the real CLI in a subprocess, and
the checks every attack ends with (exit code, one line, no traceback, no secret, nothing outside touched).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlx_tui.atomic import sha256_file
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.demo.synth import generate
from rlx_tui.staging import DATA_FILE, PartitionManifest, SourceInfo, StagingStore, Zone, utc_now_iso
from tests.functional.waiting import wait_measured

FAKE_KEY_ID = "AKIAHOSTILEFAKE00001"
FAKE_SECRET = "hostile-FAKE-secret-do-not-print-8c1f"  # recognisable: must never appear anywhere
DEMO_SECRET = "demo-secret-key"  # the demo lake's own secret (tests that talk to it use it)
NEVER_SHOWN = ("Traceback", "Logging error", "python-dotenv", FAKE_SECRET, DEMO_SECRET, "\x1b[")
SOURCE = SourceInfo(
    name="demo", endpoint="http://127.0.0.1:9", bucket="qnt.data/market-data/cryptofeed", synthetic=True
)
START = dt.date(2024, 1, 1)
REQUEST = Request(("trades",), ("BINANCE",), ("BTC-USDT",), START, START + dt.timedelta(days=2))
RANGE = ["--start", "2024-01-01", "--end", "2024-01-03", "--tables", "trades"]


@dataclass
class Result:
    """What one CLI run did."""

    code: int
    out: str
    err: str
    seconds: float
    max_rss_mb: float

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]

    def __str__(self) -> str:
        return f"exit {self.code} in {self.seconds:.1f}s\nstdout:\n{self.out}\nstderr:\n{self.err}"


def expect(result: Result, code: int, *, lines: int | None = 1, says: str | Iterable[str] = ()) -> Result:
    """The checks every attack ends with: the exit code, the number of lines, no traceback, no secret."""
    assert result.code == code, str(result)
    for bad in NEVER_SHOWN:
        assert bad not in result.text, f"{bad!r} shown:\n{result}"
    if lines is not None:
        assert len(result.lines) == lines, str(result)
    for word in [says] if isinstance(says, str) else says:
        assert word in result.text, f"{word!r} not said:\n{result}"
    return result


def snapshot(root: Path, exclude: Path) -> dict[str, tuple]:
    """Every entry under ``root`` except ``exclude`` (the data directory): type, mode, size, mtime, link."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            if path == exclude or exclude in path.parents:
                continue
            info = path.lstat()
            link = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
            size = info.st_size if not stat.S_ISDIR(info.st_mode) else 0
            found[str(path.relative_to(root))] = (
                stat.S_IFMT(info.st_mode),
                info.st_mode,
                size,
                info.st_mtime_ns,
                link,
            )
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != exclude]
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RLX_"))}
    env.update({"AWS_MAX_ATTEMPTS": "1", "RLX_RETRY_BASE_SECONDS": "0.01", "RLX_RETRY_CAP_SECONDS": "0.05"})
    env.update(extra)
    return env


class Sandbox:
    """A directory holding a data directory, a .env with a fake secret, and files that must survive."""

    def __init__(self, root: Path, data: Path | None = None) -> None:
        self.root = root
        self.data = data or root / "data"
        self.env_file = root / "hostile.env"
        self.env_file.write_text(
            f"aws_access_key_id={FAKE_KEY_ID}\naws_secret_access_key={FAKE_SECRET}\nRLX_SOURCE=demo\n"
        )
        self.victim = root / "victim"
        self.victim.mkdir(exist_ok=True)
        (self.victim / "precious.txt").write_text("must survive\n")
        (self.victim / "sub").mkdir(exist_ok=True)
        (self.victim / "sub" / "more.txt").write_text("must survive too\n")
        self.cwd = root / "cwd"
        self.cwd.mkdir(exist_ok=True)

    def use_demo_credentials(self) -> None:
        """The .env a user of the demo lake would have (the demo lake's own credentials)."""
        self.env_file.write_text(f"aws_access_key_id=demo-access-key\naws_secret_access_key={DEMO_SECRET}\n")

    def argv(self, args: tuple[str, ...], data_flag: bool = True) -> list[str]:
        full = [sys.executable, "-m", "rlx_tui.cli", *args]
        if data_flag and "--data-dir" not in args:
            full += ["--data-dir", str(self.data)]
        if "--env-file" not in args:
            full += ["--env-file", str(self.env_file)]
        return full

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(args),
            cwd=self.cwd,
            env=env or clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 90,
        check_outside: bool = True,
        data_flag: bool = True,
    ) -> Result:
        """Run the CLI; afterwards nothing outside the data directory may differ."""
        before = snapshot(self.root, self.data)
        result = run_argv(self.argv(args, data_flag), cwd=self.cwd, env=env or clean_env(), timeout=timeout)
        if check_outside:
            assert snapshot(self.root, self.data) == before, (
                f"something outside {self.data} changed\n{result}"
            )
        return result

    def call(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check_outside: bool = True,
        data_flag: bool = True,
    ) -> Result:
        """Like :meth:`run`, through ``cli.main`` in this process (no interpreter start: fast)."""
        from rlx_tui import cli
        from rlx_tui.sources.quiet import _ThreadRoutedStream

        before = snapshot(self.root, self.data)
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        # rlx-tui keeps lakeapi's prints off the terminal by routing sys.stdout/stderr (sources/quiet.py);
        # the capture streams get the same routing as the real ones have in a process of its own.
        with (
            cli_process_state(env or clean_env(), self.cwd),
            contextlib.redirect_stdout(_ThreadRoutedStream(out)),  # type: ignore[arg-type]
            contextlib.redirect_stderr(_ThreadRoutedStream(err)),  # type: ignore[arg-type]
        ):
            code = cli.main(self.argv(args, data_flag)[3:])
        result = Result(code, out.getvalue(), err.getvalue(), time.monotonic() - started, 0.0)
        if check_outside:
            assert snapshot(self.root, self.data) == before, (
                f"something outside {self.data} changed\n{result}"
            )
        return result


@contextlib.contextmanager
def cli_process_state(env: dict[str, str], cwd: Path):
    """The environment, working directory, signal handlers and log sinks ``cli.main`` changes, restored."""
    from loguru import logger

    from rlx_tui import logs

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
        logs.reset()
        logger.add(sys.__stderr__, level="WARNING", diagnose=False)


def run_argv(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Result:
    """Run ``argv`` and measure its own peak memory (``wait4`` on exactly that child)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, usage, _ = wait_measured(proc, timeout)
        out.seek(0)
        err.seek(0)
        return Result(
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            time.monotonic() - started,
            usage.ru_maxrss / 1024,
        )


def finish(proc: subprocess.Popen[bytes], timeout: float = 30) -> Result:
    started = time.monotonic()
    out, err = proc.communicate(timeout=timeout)
    return Result(
        proc.returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        time.monotonic() - started,
        0.0,
    )


def make_ready(data_dir: Path, request: Request = REQUEST, rows: int = 2000) -> list[PartitionManifest]:
    """Real canonical parquet files with validated sidecars in ready (no network)."""
    store = StagingStore(data_dir)
    store.ensure_layout()
    made = []
    for key in request.partitions():
        made.append(make_partition(store, key, rows=rows))
    return made


def make_partition(
    store: StagingStore, key: PartitionKey, *, zone: Zone = Zone.READY, rows: int = 2000
) -> PartitionManifest:
    table = to_canonical(
        key.table, generate(key.table, key.exchange, key.symbol, key.day, rows), key.exchange, key.symbol
    )
    attempt = store.new_attempt_dir(key)
    path = attempt / DATA_FILE
    pq.write_table(table, path)
    origin = table.column("origin_time").cast("int64")
    manifest = PartitionManifest(
        key=key,
        zone=zone,
        source=SOURCE,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        rows=table.num_rows,
        rows_fetched=table.num_rows,
        first_ns=pc.min(origin).as_py(),
        last_ns=pc.max(origin).as_py(),
        attempts=1,
        checks_run=("integrity.sha256",),
        fetched_at=utc_now_iso(),
        validated_at=utc_now_iso(),
    )
    return store.publish(attempt, manifest)


def no_range_findings(expected, ready, missing_at_source) -> list:
    return []


def copy_data(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    for path in [target, *target.rglob("*")]:  # certificates are read-only; tests may tamper with them
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def wait_for(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_text(data_dir: Path) -> str:
    path = data_dir / "logs" / "rlx-tui.log"
    return path.read_text(errors="replace") if path.exists() else ""


def certificate_of(data: Path) -> Path:
    """The newest certificate of a data directory."""
    return sorted((data / "certificates").glob("cert-*.json"))[-1]


SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


def forge(cert: Path, change, *, sign: bool = True) -> str | None:
    """Rewrite ``cert`` with ``change(doc)`` applied, re-sealed and re-signed with a fresh key.

    Returns the forger's fingerprint (None when left unsigned: the .sig file is removed).
    """
    import base64
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from rlx_tui.certificate.canonical import seal
    from rlx_tui.certificate.signing import fingerprint, signature_text

    doc = json.loads(cert.read_bytes())
    change(doc)
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    doc["signing"]["public_key"] = base64.b64encode(raw).decode()
    doc["signing"]["fingerprint"] = fingerprint(raw)
    doc.pop("digest", None)
    _, stored = seal(doc)
    sig = cert.with_name(cert.name + ".sig")
    cert.chmod(0o644)
    cert.write_bytes(stored)
    if not sign:
        sig.unlink(missing_ok=True)
        return None
    sig.chmod(0o644)
    sig.write_bytes(signature_text(forger.sign(stored)))
    return fingerprint(raw)


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
