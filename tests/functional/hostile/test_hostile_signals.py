"""Class 8: SIGTERM and SIGINT in the middle of any command: exit 130, one line, a clean stop.

The commands are caught mid-work deterministically: those that talk to a source are pointed at an
endpoint that accepts connections and never answers (the signal is sent once it was reached);
``validate`` and ``verify`` are given enough work (many partitions, a large file to hash).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.certificate.payload import ready_root
from rlx_tui.partitions import Request
from rlx_tui.staging import StagingStore, Zone
from tests.functional.hostile.attack import (
    RANGE,
    SIGNALS,
    Sandbox,
    certificate_of,
    copy_data,
    expect,
    finish,
    log_text,
    make_ready,
    wait_for,
)


class SilentEndpoint:
    """A TCP endpoint that accepts connections and never says a word."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.reached = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._held.append(conn)
            self.reached.set()

    def close(self) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentEndpoint]:
    endpoint = SilentEndpoint()
    yield endpoint
    endpoint.close()


def interrupt(proc, signum: int, started_work) -> float:  # type: ignore[no-untyped-def]
    wait_for(started_work, timeout=60, what="the command to be busy")
    sent = time.monotonic()
    proc.send_signal(signum)
    return sent


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["list-inventory", *RANGE], "SIGTERM"),
        (["list-inventory", *RANGE], "SIGINT"),
        (["certify", *RANGE], "SIGTERM"),
        (["certify", *RANGE], "SIGINT"),
        (["test-connection"], "SIGTERM"),
        (["status", *RANGE], "SIGTERM"),
        (["download", *RANGE], "SIGTERM"),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0],
)
def test_a_signal_while_talking_to_the_source(
    sandbox: Sandbox, silent: SilentEndpoint, command: list[str], name: str
) -> None:
    proc = sandbox.start(*command, "--source", "demo", "--endpoint-url", silent.url)
    sent = interrupt(proc, SIGNALS[name], silent.reached.is_set)
    result = finish(proc)
    expect(result, 130, says=f"interrupted ({name})")
    assert time.monotonic() - sent < 15


@pytest.fixture
def many(tmp_path: Path) -> Sandbox:
    """A data directory with 40 ready partitions: validate needs a few seconds for them."""
    data = tmp_path / "data"
    start = dt.date(2024, 1, 1)
    make_ready(data, Request(("trades",), ("BINANCE",), ("BTC-USDT",), start, start + dt.timedelta(days=39)))
    return Sandbox(tmp_path, data)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_signal_during_validate_stops_cleanly_and_the_next_run_resumes(many: Sandbox, name: str) -> None:
    proc = many.start("validate")
    interrupt(proc, SIGNALS[name], lambda: log_text(many.data).count("-> ready") >= 2)
    result = expect(finish(proc), 130, lines=None, says=f"interrupted ({name})")
    assert len(result.err.splitlines()) == 1  # stdout lists what was done before the signal
    store = StagingStore(many.data)
    assert not store.tmp_root.exists() or not list(store.tmp_root.iterdir())
    again = many.run("validate")
    expect(again, 0, lines=None, says="validated 40 partition(s): 40 ready, 0 quarantined")
    assert len(store.ready_manifests()) == 40
    assert not list(store.iter_zone(Zone.VALIDATING))


@pytest.mark.parametrize("name", ["SIGTERM"])
def test_a_signal_while_verify_hashes(tmp_path: Path, pristine: Path, name: str) -> None:
    data = copy_data(pristine, tmp_path / "data")
    (data / "logs").mkdir()
    big = next(ready_root(data).rglob("part.parquet"))
    big.unlink()
    with open(big, "wb") as handle:
        handle.truncate(16 * 1024**3)  # sparse: takes no space, but seconds to hash
    sandbox = Sandbox(tmp_path, data)
    proc = sandbox.start("verify", str(certificate_of(data)))
    interrupt(proc, SIGNALS[name], lambda: "rlx-tui started" in log_text(data))
    time.sleep(0.5)
    result = finish(proc)
    expect(result, 130, says=f"interrupted ({name})")
