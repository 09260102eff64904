"""The headless command line, run as a subprocess against the session demo lake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rlx_tui.event_codec import loads
from rlx_tui.events import RunFinished
from rlx_tui.kinds import PartitionState
from rlx_tui.sources.demo.lake import DemoLake
from tests.functional import prewarmed
from tests.functional.test_engine import expected_ready_table

RANGE = ["--start", "2024-01-01", "--end", "2024-01-03"]
TABLES = ["--tables", "trades,book", "--symbols", "BTC-USDT", "--exchanges", "BINANCE"]


def cli(
    lake: DemoLake, data_dir: Path, *args: str, env_file: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m rlx_tui.cli ARGS`` run to completion: a real process, forked pre-warmed (prewarmed.py)."""
    return prewarmed.run_text(
        "rlx_tui.cli", [*args, *common(lake, data_dir, env_file)], env=cli_env(), timeout=timeout
    )


def common(lake: DemoLake, data_dir: Path, env_file: Path | None = None) -> list[str]:
    return [
        "--source",
        "demo",
        "--endpoint-url",
        lake.endpoint_url,
        "--data-dir",
        str(data_dir),
        "--env-file",
        str(env_file or data_dir.parent / "no.env"),
    ]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RLX_"))}
    env.update({"AWS_MAX_ATTEMPTS": "1", "RLX_RETRY_BASE_SECONDS": "0.01", "RLX_RETRY_CAP_SECONDS": "0.05"})
    return env


def no_partial_files(data_dir: Path) -> None:
    assert not [p for p in (data_dir / "staging" / "tmp").rglob("*") if p.is_file()]
    assert not list(data_dir.rglob(".tmp-*"))


def test_download_certify_verify_pipeline(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    download = cli(clean_demo_lake, data_dir, "download", *RANGE, *TABLES)
    assert download.returncode == 0, download.stderr
    lines = [line for line in download.stdout.splitlines() if line.strip()]
    # not a terminal: one plain line per event, no progress-bar escape codes
    assert "\x1b[" not in download.stdout
    assert len([line for line in lines if line.startswith("ready ")]) == 6
    assert len([line for line in lines if line.startswith("start ")]) == 6
    assert len([line for line in lines if line.startswith("fetched ")]) == 6
    assert lines[-1].startswith("finished")
    certify = cli(clean_demo_lake, data_dir, "certify", *RANGE, *TABLES)
    assert certify.returncode == 0, certify.stderr
    assert "SYNTHETIC" in certify.stdout
    cert_path = Path(certify.stdout.strip().splitlines()[-1].removeprefix("written: ").strip())
    assert cert_path.is_file()
    verify = cli(clean_demo_lake, data_dir, "verify", str(cert_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("PASS")


def test_verify_failure_has_its_own_exit_code(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    assert cli(clean_demo_lake, data_dir, "download", *RANGE, *TABLES).returncode == 0
    certify = cli(clean_demo_lake, data_dir, "certify", *RANGE, *TABLES, "--json")
    cert_path = Path(json.loads(certify.stdout)["json_path"])
    victim = next((data_dir / "staging" / "ready").rglob("part.parquet"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    verify = cli(clean_demo_lake, data_dir, "verify", str(cert_path))
    assert verify.returncode == 5
    assert "FAIL" in verify.stdout
    assert victim.relative_to(data_dir / "staging" / "ready").as_posix() in verify.stdout


def test_json_output_carries_the_same_numbers_as_text(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    text = cli(clean_demo_lake, data_dir, "list-inventory", *RANGE, *TABLES)
    as_json = cli(clean_demo_lake, data_dir, "list-inventory", *RANGE, *TABLES, "--json")
    assert text.returncode == as_json.returncode == 0
    document = json.loads(as_json.stdout)
    summary = document["summary"]
    assert summary["partitions"] == 6 == len(document["partitions"])
    assert f"{summary['partitions']} partitions" in text.stdout
    assert f"to fetch: {summary['to_fetch']}" in text.stdout
    for item in document["partitions"]:
        assert item["partition"] in text.stdout
    assert cli(clean_demo_lake, data_dir, "download", *RANGE, *TABLES).returncode == 0
    status_text = cli(clean_demo_lake, data_dir, "status")
    status_json = json.loads(cli(clean_demo_lake, data_dir, "status", "--json").stdout)
    assert status_json["zones"]["ready"]["partitions"] == 6
    ready_line = next(line for line in status_text.stdout.splitlines() if line.strip().startswith("ready"))
    assert ready_line.split()[1] == "6"


def test_download_json_lines_parse(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    result = cli(clean_demo_lake, data_dir, "download", *RANGE, "--tables", "trades", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert events[-1]["event"] == "RunFinished"
    assert events[-1]["counts"] == {"ready": 3}
    assert sum(1 for e in events if e["event"] == "Validated") == 3
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    decoded = [loads(line) for line in lines if json.loads(line)["event"] != "transfer"]  # typed again
    assert isinstance(decoded[-1], RunFinished) and decoded[-1].counts == {PartitionState.READY: 3}


def test_dry_run_touches_nothing(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    result = cli(clean_demo_lake, data_dir, "download", *RANGE, *TABLES, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "6 partitions" in result.stdout
    assert not (data_dir / "staging").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download", "--tables", "trades,quotes", *RANGE], "unknown table quotes"),
        (["download", "--symbols", "DOGE-USDT", *RANGE], "unknown symbol DOGE-USDT"),
        (["download", "--start", "2024-01-05", "--end", "2024-01-02"], "before start date"),
        (["download", "--start", "2024-01-05", "--end", "05/01/2024"], "is not a date"),
        (["download", "--workers", "3", *RANGE], "at most 2"),
        (["download", "--start", "2024-01-01", "--end", "2999-01-01"], "not complete yet"),
        (["download"], "--start and --end are required"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(
    clean_demo_lake: DemoLake, data_dir: Path, args: list[str], message: str
) -> None:
    result = cli(clean_demo_lake, data_dir, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1  # one line, no usage block


def test_unusable_data_directory_is_exit_2(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    result = cli(clean_demo_lake, blocker / "data", "status", env_file=tmp_path / "no.env")
    assert result.returncode == 2
    assert "data directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_credentials_exit_3_without_leaking_the_secret(
    clean_demo_lake: DemoLake, data_dir: Path, tmp_path: Path
) -> None:
    env_file = tmp_path / "wrong.env"
    env_file.write_text("aws_access_key_id=AKIAWRONGKEY\naws_secret_access_key=super-secret-value-123\n")
    result = cli(clean_demo_lake, data_dir, "test-connection", env_file=env_file)
    assert result.returncode == 3
    assert "refused the credentials" in result.stderr
    assert "super-secret-value-123" not in result.stderr + result.stdout
    logs = "".join(p.read_text() for p in (data_dir / "logs").glob("*.log"))
    assert "super-secret-value-123" not in logs


def test_good_connection_exit_0(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    result = cli(clean_demo_lake, data_dir, "test-connection")
    assert result.returncode == 0, result.stderr
    assert "connected" in result.stdout


def _start_download(lake: DemoLake, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlx_tui.cli",
            "download",
            *RANGE,
            "--tables",
            "trades,book,book_delta_v2",
            *common(lake, data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )


def _wait_for_ready_lines(process: subprocess.Popen[str], count: int, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if sum(1 for s in seen if s.startswith("ready ")) >= count:
            return seen
    raise AssertionError(f"never saw {count} ready partitions: {seen}")


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupted_download_resumes_without_refetching(
    clean_demo_lake: DemoLake, data_dir: Path, how: str
) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.15)
    process = _start_download(clean_demo_lake, data_dir)
    try:
        _wait_for_ready_lines(process, 2)
        started = time.monotonic()
        process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
        code = process.wait(timeout=20)
        if how == "sigint":
            assert code == 130
            assert time.monotonic() - started < 10
            no_partial_files(data_dir)
    finally:
        process.kill()
        process.wait()
    ready_dir = data_dir / "staging" / "ready"
    ready_before = {p.parent.relative_to(ready_dir).as_posix() for p in ready_dir.rglob("part.parquet")}
    assert len(ready_before) >= 2
    gets_before = dict(clean_demo_lake.stats()["object_gets"])
    clean_demo_lake.set_faults(slow_seconds=0.0)
    second = cli(clean_demo_lake, data_dir, "download", *RANGE, "--tables", "trades,book,book_delta_v2")
    assert second.returncode == 0, second.stdout + second.stderr
    no_partial_files(data_dir)
    gets_after = clean_demo_lake.stats()["object_gets"]
    for rel in ready_before:
        table, exchange, symbol, day = rel.split("/")
        key = next(k for k in gets_after if f"{table}/{exchange}/{symbol}/{day}/" in k)
        assert gets_after[key] == gets_before.get(key), f"{rel} was fetched again"
    # every ready file holds what the source served, whatever the interruption did
    for path in ready_dir.rglob("part.parquet"):
        table, exchange, symbol, day = path.parent.relative_to(ready_dir).parts
        exchange, symbol, day = (part.split("=", 1)[1] for part in (exchange, symbol, day))
        pid = f"{table}/{exchange}/{symbol}/{day}"
        assert pq.read_table(path).equals(expected_ready_table(clean_demo_lake, pid)), pid
    assert len(list(ready_dir.rglob("part.parquet"))) == 9


def test_common_options_work_before_the_command_too(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    before = prewarmed.run_text(
        "rlx_tui.cli", [*common(clean_demo_lake, data_dir), "--json", "status"], env=cli_env(), timeout=60
    )
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["data_dir"] == str(data_dir)
