"""Classes 4, 5 and 6 (certificates): certify agrees with verify, an unpinned signer is not a pass,
and hostile certificates are refused quickly with bounded memory."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.certificate import CertificateRefused, issue_certificate, verify_certificate
from rlx_tui.certificate.payload import ready_root
from rlx_tui.certificate.signing import fingerprint, load_or_create_key
from rlx_tui.sources.demo.lake import DemoLake
from tests.functional.hostile.attack import (
    RANGE,
    REQUEST,
    SOURCE,
    Sandbox,
    certificate_of,
    copy_data,
    expect,
    flip_byte,
    forge,
    no_range_findings,
)

PART = "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-02/part.parquet"


# -- class 4: one rule for what ready holds, so certify refuses exactly where verify fails ------------------
def _link_a_file(ready: Path, outside: Path) -> str:
    copy = outside / "copy.parquet"
    shutil.copyfile(ready / PART, copy)
    (ready / PART).unlink()
    (ready / PART).symlink_to(copy)
    return PART


def _link_a_directory(ready: Path, outside: Path) -> str:
    directory = (ready / PART).parent
    shutil.copytree(directory, outside / "partition")
    shutil.rmtree(directory)
    directory.symlink_to(outside / "partition")
    return str(Path(PART).parent)


def _extra(rel: str) -> Callable[[Path, Path], str]:
    def tamper(ready: Path, outside: Path) -> str:
        (ready / rel).parent.mkdir(parents=True, exist_ok=True)
        (ready / rel).write_bytes(b"not listed")
        return rel

    return tamper


def _fifo(ready: Path, outside: Path) -> str:
    rel = "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-02/pipe"
    os.mkfifo(ready / rel)
    return rel


TAMPERINGS = {
    "file replaced by a link": _link_a_file,
    "partition directory replaced by a link": _link_a_directory,
    "extra file in a partition": _extra(
        "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-02/extra.parquet"
    ),
    "extra file at the ready root": _extra("stray.bin"),
    "extra file in a table directory": _extra("trades/README"),
    "temporary file": _extra("trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-03/.tmp-part.parquet.1"),
    "a FIFO in ready": _fifo,
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_certify_refuses_exactly_where_verify_fails(tmp_path: Path, pristine: Path, name: str) -> None:
    data = copy_data(pristine, tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    old = certificate_of(data)
    assert verify_certificate(old).passed and issue_certificate(
        data, REQUEST, SOURCE, range_checks=no_range_findings
    )
    rel = TAMPERINGS[name](ready_root(data), outside)
    report = verify_certificate(old)
    assert not report.passed and report.verdict == "fail"
    assert any(rel in p for p in report.problems), report.problems
    with pytest.raises(CertificateRefused) as refused:
        issue_certificate(data, REQUEST, SOURCE, range_checks=no_range_findings)
    assert any(
        rel in str(b) or b.partition_id == "trades/BINANCE/BTC-USDT/2024-01-02"
        for b in refused.value.blockers
    )
    assert sorted(p.name for p in outside.iterdir()) in ([], ["copy.parquet"], ["partition"])  # never written


def test_certify_on_the_command_line_names_the_link(demo_lake: DemoLake, stocked: Sandbox) -> None:
    stocked.use_demo_credentials()
    _link_a_file(ready_root(stocked.data), stocked.victim)
    result = stocked.run("certify", "--source", "demo", "--endpoint-url", demo_lake.endpoint_url, *RANGE)
    expect(result, 4, says=["certificate refused", "symbolic link", "trades/BINANCE/BTC-USDT/2024-01-02"])
    assert len(list((stocked.data / "certificates").glob("cert-*.json"))) == 1  # no new certificate


def test_certify_on_the_command_line_names_an_extra_file(demo_lake: DemoLake, stocked: Sandbox) -> None:
    stocked.use_demo_credentials()
    (ready_root(stocked.data) / "trades" / "notes.txt").write_text("hello")
    result = stocked.call("certify", "--source", "demo", "--endpoint-url", demo_lake.endpoint_url, *RANGE)
    expect(result, 4, says=["unexpected", "trades/notes.txt"])


# -- class 5: a valid signature by a key nobody pinned is not a pass --------------------------------------
def _tampered_copy(stocked: Sandbox) -> tuple[Path, str]:
    """Data copied without keys/, one partition altered, its hash updated, re-signed with a fresh key."""
    shutil.rmtree(stocked.data / "keys")
    part = ready_root(stocked.data) / PART
    flip_byte(part)
    digest = sha256_file(part)

    def change(doc: dict) -> None:
        for entry in doc["partitions"]:
            if entry["path"] == PART:
                entry["sha256"] = digest

    cert = certificate_of(stocked.data)
    forger = forge(cert, change)
    assert forger is not None
    return cert, forger


def test_a_re_signed_forgery_without_keys_is_not_a_pass(stocked: Sandbox) -> None:
    cert, forger = _tampered_copy(stocked)
    result = stocked.run("verify", str(cert), data_flag=False)
    expect(result, 5, says=["UNTRUSTED", "signature valid, signer unknown", forger, "--fingerprint"])
    as_json = json.loads(stocked.call("verify", str(cert), "--json", data_flag=False).out)
    assert as_json["verdict"] == "signer_unknown" and as_json["passed"] is False
    assert as_json["signature_ok"] is True and as_json["signer"]["trusted"] is None


def test_pinning_decides_the_verdict(stocked: Sandbox, pristine: Path) -> None:
    original = fingerprint(load_or_create_key(pristine)[0].public_key())
    cert, forger = _tampered_copy(stocked)
    pinned_original = stocked.call("verify", str(cert), "--fingerprint", original, data_flag=False)
    expect(pinned_original, 5, says=["FAIL", "not by the key you pinned"])
    pinned_forger = stocked.call(
        "verify", str(cert), "--fingerprint", forger.removeprefix("sha256:"), data_flag=False
    )
    expect(pinned_forger, 0, says="PASS")  # whoever pins the forger's key trusts the forger: documented


def test_an_honest_copy_without_keys_needs_a_pin(stocked: Sandbox, pristine: Path) -> None:
    shutil.rmtree(stocked.data / "keys")
    cert = certificate_of(stocked.data)
    expect(stocked.call("verify", str(cert), data_flag=False), 5, says="signer unknown")
    original = fingerprint(load_or_create_key(pristine)[0].public_key())
    expect(stocked.call("verify", str(cert), "--fingerprint", original, data_flag=False), 0, says="PASS")
    (stocked.data / "keys").mkdir()
    (stocked.data / "keys" / "trusted-signers.txt").write_text(f"{original}  received from the issuer\n")
    expect(stocked.call("verify", str(cert), data_flag=False), 0, says="PASS")


@pytest.mark.parametrize("value", ["sha256:xyz", "deadbeef", "sha256:" + "0" * 63, "\x1b[31m"])
def test_a_malformed_fingerprint_is_exit_2(stocked: Sandbox, value: str) -> None:
    expect(stocked.call("verify", str(certificate_of(stocked.data)), "--fingerprint", value), 2)


# -- class 6: bounded work on untrusted certificates ------------------------------------------------------
def _nested(cert: Path) -> None:
    cert.chmod(0o644)
    cert.write_bytes(b"[" * 200_000 + b"]" * 200_000)


def _dates(start: str, end: str) -> Callable[[Path], None]:
    def change(cert: Path) -> None:
        def edit(doc: dict) -> None:
            doc["request"]["start"], doc["request"]["end"] = start, end

        forge(cert, edit)
        shutil.rmtree(cert.parent.parent / "keys")  # an unknown signer: verify goes on to the request

    return change


def _unsigned_ten_thousand_years(cert: Path) -> None:
    def edit(doc: dict) -> None:
        doc["request"]["start"], doc["request"]["end"] = "0001-01-01", "9999-12-31"

    forge(cert, edit, sign=False)


def _sparse(cert: Path) -> None:
    cert.chmod(0o644)
    with open(cert, "r+b") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: instant, but 300 MB as far as a reader knows


def _sig_fifo(cert: Path) -> None:
    sig = cert.with_name(cert.name + ".sig")
    sig.unlink()
    os.mkfifo(sig)


def _deep_but_parseable(cert: Path) -> None:
    cert.chmod(0o644)
    cert.write_bytes(b'{"a":' * 500 + b"1" + b"}" * 500)


HOSTILE = {
    "200,000 nested brackets": (_nested, "nested too deeply"),
    "500 nested objects": (_deep_but_parseable, "nested deeper"),
    "end date in year 9999": (_dates("2024-01-01", "9999-12-31"), "more than rlx-tui ever certifies"),
    "the last two days of year 9999": (_dates("9999-12-30", "9999-12-31"), "signer unknown"),
    "unsigned, 10,000-year request": (_unsigned_ten_thousand_years, "signature file"),
    "a 300 MB certificate": (_sparse, "more than the"),
    "a FIFO as signature file": (_sig_fifo, "not a regular file"),
}


MEASURED = {"200,000 nested brackets", "unsigned, 10,000-year request", "a 300 MB certificate"}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_certificate_is_exit_5_quickly_with_bounded_memory(stocked: Sandbox, name: str) -> None:
    tamper, says = HOSTILE[name]
    cert = certificate_of(stocked.data)
    tamper(cert)
    if name in MEASURED:  # a real process: its own time and peak memory are measured
        result = stocked.run("verify", str(cert), timeout=60)
        assert result.seconds < 30 and result.max_rss_mb < 400, (result.seconds, result.max_rss_mb)
    else:
        result = stocked.call("verify", str(cert))
    expect(result, 5, says=says)


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "missing"])
def test_a_certificate_path_that_is_no_file_is_exit_2(sandbox: Sandbox, kind: str) -> None:
    path = sandbox.root / "cert.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    result = sandbox.call("verify", str(path))
    expect(result, 2, says="cert-*.json")
    assert result.seconds < 20


def test_a_fifo_as_signing_key_is_refused_without_waiting(demo_lake: DemoLake, stocked: Sandbox) -> None:
    stocked.use_demo_credentials()
    fifo = stocked.root / "key.pem"
    os.mkfifo(fifo)
    result = stocked.call(
        "certify",
        "--source",
        "demo",
        "--endpoint-url",
        demo_lake.endpoint_url,
        *RANGE,
        "--signing-key",
        str(fifo),
    )
    expect(result, 2, says="FIFO")


def test_verify_writes_nothing_outside_the_certificates_data_directory(stocked: Sandbox) -> None:
    """Run from another folder without --data-dir: no ./data, no logs there (the run helper snapshots it)."""
    result = stocked.run("verify", str(certificate_of(stocked.data)), data_flag=False)
    expect(result, 0, says="PASS")
    assert list(stocked.cwd.iterdir()) == []


def test_verify_of_a_certificate_outside_any_data_directory_creates_nothing(stocked: Sandbox) -> None:
    loose = stocked.root / "downloads"
    loose.mkdir()
    cert = certificate_of(stocked.data)
    shutil.copyfile(cert, loose / cert.name)
    shutil.copyfile(cert.with_name(cert.name + ".sig"), loose / (cert.name + ".sig"))
    before = sorted(p.name for p in stocked.root.iterdir())
    result = stocked.call("verify", str(loose / cert.name), data_flag=False)
    expect(result, 5, lines=None, says="FAIL")
    assert sorted(p.name for p in stocked.root.iterdir()) == before  # no logs/ or data/ appeared beside it
    assert sorted(p.name for p in loose.iterdir()) == sorted([cert.name, cert.name + ".sig"])
