"""Class 7: on a full filesystem (a real 3 MB tmpfs, filled up) every command exits 6 with one line;
logging never prints its own tracebacks, and no verified data is lost."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore, Zone
from tests.functional.hostile.attack import RANGE, Sandbox, certificate_of, copy_data, expect


def fill(directory: Path) -> None:
    """Write until the filesystem says ENOSPC, in big then small blocks (raw writes: no buffer left over)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (64 * 1024, 512, 1):
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def full(small_disk: Path, pristine: Path) -> Iterator[Sandbox]:
    """A sandbox on the small disk with a stocked data directory, the disk then filled up."""
    sandbox = Sandbox(small_disk, copy_data(pristine, small_disk / "data"))
    sandbox.use_demo_credentials()
    (sandbox.data / "logs").mkdir(mode=0o700)
    (sandbox.data / "logs" / "rlx-tui.log").write_text("an earlier run\n")  # its last page has room
    fill(small_disk)
    yield sandbox


def ready_intact(data: Path) -> None:
    store = StagingStore(data)
    ready = store.ready_manifests()
    assert len(ready) == 3
    for key, manifest in ready.items():
        assert sha256_file(store.data_path(Zone.READY, key)) == manifest.sha256


@pytest.mark.parametrize("command", ["status", "validate"])
def test_local_commands_on_a_full_disk_exit_6(full: Sandbox, command: str) -> None:
    expect((full.run if command == "validate" else full.call)(command), 6, says="no space left")
    ready_intact(full.data)


@pytest.mark.parametrize(
    "command",
    [["download", *RANGE], ["certify", *RANGE], ["list-inventory", *RANGE], ["test-connection"]],
)
def test_source_commands_on_a_full_disk_exit_6_before_they_start(
    demo_lake: DemoLake, full: Sandbox, command: list[str]
) -> None:
    runner = full.run if command[0] == "download" else full.call  # the example as a real process
    result = runner(*command, "--source", "demo", "--endpoint-url", demo_lake.endpoint_url)
    expect(result, 6, says="no space left")
    ready_intact(full.data)


def test_verify_only_reads_and_works_on_a_full_disk(full: Sandbox) -> None:
    expect(full.call("verify", str(certificate_of(full.data))), 0, says="PASS")


def test_a_write_failing_mid_command_is_exit_6_and_loses_nothing(
    full: Sandbox, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], in_process: None
) -> None:
    """Past the start-up check (disabled here), the first write that fails stops the command with 6."""
    from rlx_tui import cli
    from rlx_tui.service import workspace

    monkeypatch.setattr(workspace, "MIN_FREE_BYTES", 0)  # the start-up check lives in the service
    code = cli.main(["validate", "--data-dir", str(full.data), "--env-file", str(full.env_file)])
    captured = capfd.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert code == 6, captured
    assert len(lines) == 1 and "no space left" in lines[0], lines
    assert "rlx-tui started" in (full.data / "logs" / "rlx-tui.log").read_text()  # it got past the start
    assert "Logging error" not in captured.err and "Traceback" not in captured.err
    ready_intact(full.data)
    assert not list((full.data / "staging" / "validating").rglob("*.parquet"))  # nothing stranded half-way


def test_the_disk_preflight_speaks_human_sizes(demo_lake: DemoLake, small_disk: Path) -> None:
    sandbox = Sandbox(small_disk)
    sandbox.use_demo_credentials()
    result = sandbox.call(
        "download", "--source", "demo", "--endpoint-url", demo_lake.endpoint_url,
        "--start", "2024-01-01", "--end", "2024-01-04", "--tables", "trades,book",
    )  # fmt: skip
    expect(result, 6, lines=None, says=["not enough disk", "MB", "--force"])
    assert "0.00 GB" not in result.text and "GB" not in result.text
    assert result.lines[-1].startswith("rlx-tui: not enough disk")
    assert not list((small_disk / "data").rglob("*.parquet"))
