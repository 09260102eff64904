"""Data readiness certificate: gate, content, signature, chain, verify (no network)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rlx_tui.atomic import sha256_file
from rlx_tui.certificate import (
    BLOCKER_ORDER,
    MANIFEST_FILE,
    CertificateRefused,
    ChainError,
    SigningKeyError,
    chain_problems,
    default_key_path,
    issue_certificate,
    iter_certificates,
    verify_certificate,
)
from rlx_tui.certificate.canonical import canonical_bytes, document_digest, seal
from rlx_tui.certificate.signing import fingerprint, signature_text
from rlx_tui.partitions import PartitionKey, Request, Waiver
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.demo.synth import generate
from rlx_tui.staging import DATA_FILE, SIDECAR, PartitionManifest, SourceInfo, StagingStore, Zone, utc_now_iso
from rlx_tui.validation.findings import Finding, Severity

DEMO = SourceInfo(name="demo", endpoint="http://127.0.0.1:9999", bucket="demo.crypto.lake", synthetic=True)
LAKE = SourceInfo(name="lake", endpoint=None, bucket="qnt.data", synthetic=False)
THRESHOLDS = {"max_gap_s": {"book": 60, "trades": 600}, "crossed_max_fraction": 0.0001}
CHECKS = ("F1", "F2", "F3", "F4")
START = dt.date(2024, 1, 1)
NOW = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)


def no_range_findings(expected, ready, missing_at_source) -> list[Finding]:
    return []


def make_partition(
    store: StagingStore,
    key: PartitionKey,
    *,
    zone: Zone = Zone.READY,
    rows: int = 100,
    source: SourceInfo = DEMO,
    findings: tuple[Finding, ...] = (),
    reason: str | None = None,
    publish: bool = True,
) -> PartitionManifest:
    """Write a real canonical parquet file and its sidecar, and publish it into ``zone``.

    ``publish=False`` writes the same files straight into place without the
    store's fsyncs (only for the speed test, whose subject is not the store).
    """
    raw = generate(key.table, key.exchange, key.symbol, key.day, rows)
    table = to_canonical(key.table, raw, key.exchange, key.symbol)
    attempt = store.new_attempt_dir(key)
    path = attempt / DATA_FILE
    pq.write_table(table, path)
    origin = table.column("origin_time").cast("int64")
    manifest = PartitionManifest(
        key=key,
        zone=zone,
        source=source,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        rows=table.num_rows,
        rows_fetched=table.num_rows,
        first_ns=pc.min(origin).as_py(),
        last_ns=pc.max(origin).as_py(),
        attempts=1,
        findings=findings,
        checks_run=CHECKS,
        thresholds=THRESHOLDS,
        quarantine_reason=reason,
        fetched_at=utc_now_iso(),
        validated_at=utc_now_iso() if zone in (Zone.READY, Zone.QUARANTINE) else None,
    )
    if not publish:
        target = store.partition_dir(zone, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        (attempt / SIDECAR).write_text(json.dumps(manifest.to_dict()))
        os.rename(attempt, target)
        return manifest
    return store.publish(attempt, manifest)


def make_request(days: int = 3, waivers: Iterable[Waiver] = (), symbols=("BTC-USDT",)) -> Request:
    return Request(
        tables=("trades", "book"),
        exchanges=("BINANCE",),
        symbols=tuple(symbols),
        start=START,
        end=START + dt.timedelta(days=days - 1),
        waivers=tuple(waivers),
    )


def fill(store: StagingStore, request: Request, skip: Iterable[PartitionKey] = (), **kw) -> None:
    skipped = set(skip)
    for key in request.partitions():
        if key not in skipped:
            make_partition(store, key, **kw)


def issue(data_dir: Path, request: Request, source: SourceInfo = DEMO, **kw):
    kw.setdefault("range_checks", no_range_findings)
    kw.setdefault("now", NOW)
    return issue_certificate(data_dir, request, source, **kw)


def ready_root(data_dir: Path) -> Path:
    return data_dir / "staging" / "ready"


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture()
def issued(data_dir: Path):
    """A data directory with three days of two tables, all ready, and one certificate over them."""
    request = make_request()
    store = StagingStore(data_dir)
    fill(store, request)
    return request, issue(data_dir, request)


def load(path: Path) -> dict:
    return json.loads(path.read_bytes())


# -- issuing ------------------------------------------------------------------------------------


def test_complete_run_issues_certificate_whose_every_sha256_matches(data_dir: Path, issued) -> None:
    request, cert = issued
    doc = load(cert.json_path)
    root = ready_root(data_dir)
    assert len(doc["partitions"]) == len(request.partitions()) == cert.partitions == 6
    for entry in doc["partitions"]:
        assert sha256_file(root / entry["path"]) == entry["sha256"]
        assert (root / entry["path"]).stat().st_size == entry["bytes"]
        assert entry["rows"] == 100 and entry["first_time"] and entry["last_time"]
        assert entry["checks"]["run"] == list(CHECKS)
    manifest_lines = (root / MANIFEST_FILE).read_text().splitlines()
    by_path = sorted(doc["partitions"], key=lambda e: e["path"])
    assert manifest_lines == [f"{e['sha256']}  {e['path']}" for e in by_path]
    assert doc["payload"]["payload_oxum"] == f"{cert.total_bytes}.6"
    assert doc["digest"] == document_digest(doc) == cert.digest
    assert cert.json_path.read_bytes() == canonical_bytes(doc)
    assert doc["issued_at"] == "2024-02-01T12:00:00.000000Z"
    assert doc["request"]["tables"] == ["trades", "book"]
    assert {"rlx-tui", "lakeapi", "pyarrow", "polars"} <= set(doc["software"])
    assert doc["thresholds"]["sets"][0]["values"] == THRESHOLDS
    assert doc["totals"]["tables"]["book"]["partitions"] == 3
    assert doc["totals"]["tables"]["trades"]["rows"] == 300
    assert doc["result"]["status"] == "PASSED"
    assert doc["signing"]["fingerprint"] == cert.fingerprint
    assert cert.json_path.parent == data_dir / "certificates"
    assert cert.text_path.exists() and cert.signature_path.exists()
    assert cert.previous_digest is None and doc["previous"] is None


def test_certificate_carries_no_secret(data_dir: Path, issued) -> None:
    _, cert = issued
    pem = default_key_path(data_dir).read_bytes()
    secret_b64 = pem.split(b"-----")[2].strip()
    for path in (cert.json_path, cert.text_path, cert.signature_path):
        assert b"PRIVATE" not in path.read_bytes()
        assert secret_b64 not in path.read_bytes()
    assert not any(p.name.endswith(".pem") for p in cert.json_path.parent.iterdir())


def test_refused_while_one_partition_is_quarantined(data_dir: Path) -> None:
    request = make_request()
    store = StagingStore(data_dir)
    bad = PartitionKey("book", "BINANCE", "BTC-USDT", START + dt.timedelta(days=1))
    fill(store, request, skip=[bad])
    make_partition(store, bad, zone=Zone.QUARANTINE, reason="book.crossed: 3.1% of rows crossed (max 0.01%)")
    with pytest.raises(CertificateRefused) as caught:
        issue(data_dir, request)
    [blocker] = caught.value.blockers
    assert (blocker.kind, blocker.partition_id) == ("quarantined", bad.id)
    assert "book.crossed" in blocker.reason
    assert bad.id in str(caught.value) and "3.1% of rows crossed" in str(caught.value)
    assert not (data_dir / "certificates").exists() or not list((data_dir / "certificates").glob("cert-*"))


def test_refusal_lists_every_blocker_in_order(data_dir: Path) -> None:
    request = make_request(days=5)
    store = StagingStore(data_dir)
    day = [START + dt.timedelta(days=i) for i in range(5)]
    missing = PartitionKey("trades", "BINANCE", "BTC-USDT", day[0])
    failed = PartitionKey("book", "BINANCE", "BTC-USDT", day[1])
    quarantined = PartitionKey("trades", "BINANCE", "BTC-USDT", day[2])
    unvalidated = PartitionKey("book", "BINANCE", "BTC-USDT", day[3])
    not_fetched = PartitionKey("trades", "BINANCE", "BTC-USDT", day[4])
    fill(store, request, skip=[missing, failed, quarantined, unvalidated, not_fetched])
    make_partition(store, quarantined, zone=Zone.QUARANTINE, reason="trades.duplicate_id: 4 duplicates")
    make_partition(store, unvalidated, zone=Zone.VALIDATING)
    with pytest.raises(CertificateRefused) as caught:
        issue(data_dir, request, missing_at_source=[missing], failed={failed: "HTTP 403 access denied"})
    kinds = [b.kind for b in caught.value.blockers]
    assert kinds == ["not_fetched", "failed", "quarantined", "not_validated", "missing_at_source"]
    assert kinds == [k for k in BLOCKER_ORDER if k in kinds]
    ids = [b.partition_id for b in caught.value.blockers]
    assert ids == [not_fetched.id, failed.id, quarantined.id, unvalidated.id, missing.id]
    text = str(caught.value)
    positions = [text.index(i) for i in ids]
    assert positions == sorted(positions)
    assert "HTTP 403" in text and "4 duplicates" in text and "waiver" in text


def test_range_check_errors_block_and_warnings_are_recorded(data_dir: Path) -> None:
    request = make_request()
    fill(StagingStore(data_dir), request)
    seen: dict = {}

    def failing(expected, ready, missing_at_source):
        seen["expected"] = list(expected)
        return [Finding("X4.sequence", Severity.ERROR, 5, 0, "sequence restarts across midnight")]

    with pytest.raises(CertificateRefused) as caught:
        issue(data_dir, request, range_checks=failing)
    assert [b.kind for b in caught.value.blockers] == ["range_check"]
    assert "sequence restarts" in str(caught.value)
    assert seen["expected"] == request.partitions()

    def warning(expected, ready, missing_at_source):
        return [Finding("X4.gap", Severity.WARNING, 900, 600, "15 min gap across midnight")]

    cert = issue(data_dir, request, range_checks=warning)
    doc = load(cert.json_path)
    assert doc["result"]["status"] == "WARNED"
    assert doc["result"]["range_checks"]["warnings"][0]["message"] == "15 min gap across midnight"
    assert doc["result"]["range_checks"]["checker"].endswith("warning")
    assert "15 min gap across midnight" in cert.text_path.read_text()


def test_cross_day_checks_unavailable_blocks(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request)
    monkeypatch.setitem(sys.modules, "rlx_tui.validation.continuity", None)  # import now fails
    with pytest.raises(CertificateRefused) as caught:
        issue_certificate(data_dir, request, DEMO, now=NOW)
    assert [b.kind for b in caught.value.blockers] == ["range_check"]
    assert "unavailable" in str(caught.value)


def test_missing_day_needs_a_named_waiver_which_is_recorded(data_dir: Path) -> None:
    gone = PartitionKey("trades", "BINANCE", "BTC-USDT", START + dt.timedelta(days=1))
    store = StagingStore(data_dir)
    fill(store, make_request(), skip=[gone])
    with pytest.raises(CertificateRefused) as caught:
        issue(data_dir, make_request(), missing_at_source=[gone])
    assert [(b.kind, b.partition_id) for b in caught.value.blockers] == [("missing_at_source", gone.id)]

    nameless = make_request(waivers=[Waiver(gone.id, "", "ana")])
    with pytest.raises(CertificateRefused, match="no reason"):
        issue(data_dir, nameless, missing_at_source=[gone])

    waiver = Waiver(gone.id, "Binance outage, not in the lake (support ticket 4411)", "ana@desk")
    seen: dict = {}

    def spy(expected, ready, missing_at_source):
        seen.update(expected=list(expected), missing=list(missing_at_source))
        return []

    request = make_request(waivers=[waiver])
    cert = issue(data_dir, request, missing_at_source=[gone], range_checks=spy)
    doc = load(cert.json_path)
    assert doc["waivers_applied"] == [waiver.to_dict()]
    assert doc["request"]["waivers"] == [waiver.to_dict()]
    assert doc["totals"]["waived"] == 1 and doc["totals"]["partitions"] == 5
    assert gone not in seen["expected"] and seen["missing"] == [gone]
    text = cert.text_path.read_text()
    assert gone.id in text and "support ticket 4411" in text and "ana@desk" in text
    assert verify_certificate(cert.json_path).passed
    # the day arriving later makes the old certificate incomplete: it said the day was missing
    make_partition(store, gone)
    report = verify_certificate(cert.json_path)
    assert not report.complete and report.unexpected == [str(gone.rel_dir / DATA_FILE)]


def test_waivers_that_match_nothing_missing_are_ignored_with_a_note(data_dir: Path) -> None:
    ready_key = PartitionKey("book", "BINANCE", "BTC-USDT", START)
    stranger = "book/BINANCE/ETH-USDT/2024-01-01"
    request = make_request(
        waivers=[Waiver(ready_key.id, "thought it was gone", "bo"), Waiver(stranger, "typo", "bo")]
    )
    fill(StagingStore(data_dir), request)
    doc = load(issue(data_dir, request).json_path)
    assert doc["waivers_applied"] == []
    assert any(ready_key.id in n and "not needed" in n for n in doc["notes"])
    assert any(stranger in n and "not a partition of this request" in n for n in doc["notes"])


def test_issue_refuses_a_ready_file_changed_since_validation(data_dir: Path) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request)
    key = request.partitions()[0]
    path = ready_root(data_dir) / key.rel_dir / DATA_FILE
    flip_byte(path)
    with pytest.raises(CertificateRefused) as caught:
        issue(data_dir, request)
    assert [(b.kind, b.partition_id) for b in caught.value.blockers] == [("not_validated", key.id)]
    assert "changed since validation" in str(caught.value)
    cert = issue(data_dir, request, rehash=False)  # trusting sidecars: documented, and recorded
    assert load(cert.json_path)["payload"]["rehashed"] is False
    assert not verify_certificate(cert.json_path).passed  # verify always re-hashes


def test_endpoint_credentials_never_reach_the_certificate(data_dir: Path) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request, source=LAKE)
    leaky = SourceInfo(
        "lake", "https://AKIAEXAMPLE:s3cr3t@mirror.example:9000/lake?X-Amz-Signature=abc", "b", False
    )
    cert = issue(data_dir, request, source=leaky)
    for path in (cert.json_path, cert.text_path):
        text = path.read_text()
        assert "s3cr3t" not in text and "AKIAEXAMPLE" not in text and "X-Amz" not in text
    assert load(cert.json_path)["source"]["endpoint"] == "https://mirror.example:9000/lake"


# -- renderings ---------------------------------------------------------------------------------


def test_demo_certificate_says_synthetic_in_both_renderings(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    assert cert.synthetic and doc["synthetic"] is True and "SYNTHETIC" in doc["notice"]
    assert cert.text_path.read_text().startswith("# ⚠ SYNTHETIC")
    assert cert.summary.startswith("*** SYNTHETIC")


def test_lake_certificate_does_not_say_synthetic(data_dir: Path) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request, source=LAKE)
    cert = issue(data_dir, request, source=LAKE)
    assert not cert.synthetic and load(cert.json_path)["notice"] is None
    assert "SYNTHETIC" not in cert.text_path.read_text() and "SYNTHETIC" not in cert.summary


def test_a_synthetic_partition_makes_the_certificate_synthetic(data_dir: Path) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request)  # sidecars say demo
    cert = issue(data_dir, request, source=LAKE)
    assert cert.synthetic and "SYNTHETIC" in cert.text_path.read_text()
    assert any("another source" in n for n in load(cert.json_path)["notes"])


# -- verify -------------------------------------------------------------------------------------


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_passes_on_untouched_data(data_dir: Path, issued) -> None:
    _, cert = issued
    report = verify_certificate(cert.json_path)
    assert report.passed, report.text()
    assert report.complete and report.valid and report.signature_ok and report.digest_ok
    assert report.signer_trusted is True
    assert report.checked_files == 6 and not report.problems
    assert report.exit_code == 0 and "PASS" in report.text()


def test_verify_fails_naming_a_file_with_one_byte_changed(data_dir: Path, issued) -> None:
    _, cert = issued
    entry = load(cert.json_path)["partitions"][2]
    flip_byte(ready_root(data_dir) / entry["path"])
    report = verify_certificate(cert.json_path)
    assert not report.passed and report.exit_code == 5  # the CLI's code for a certificate that fails
    assert report.complete and not report.valid
    assert report.modified == [entry["path"]]
    assert any(entry["path"] in p and "modified" in p for p in report.problems)


def test_verify_fails_naming_a_deleted_file(data_dir: Path, issued) -> None:
    _, cert = issued
    entry = load(cert.json_path)["partitions"][0]
    (ready_root(data_dir) / entry["path"]).unlink()
    report = verify_certificate(cert.json_path)
    assert not report.passed and not report.complete and not report.valid
    assert report.missing == [entry["path"]]
    assert any(entry["path"] in p and "missing" in p for p in report.problems)


@pytest.mark.parametrize(
    "added",
    [
        "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-02/extra.parquet",
        "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-09/part.parquet",
        "trades/exchange=BINANCE/symbol=BTC-USDT/notes.txt",
        "trades/README",
        "stray.bin",
        "trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-02/.tmp-part.parquet.1234",
    ],
)
def test_verify_fails_naming_an_added_file(data_dir: Path, issued, added: str) -> None:
    _, cert = issued
    target = ready_root(data_dir) / added
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not listed")
    report = verify_certificate(cert.json_path)
    if "dt=2024-01-09" in added:  # outside the request's dates: another request's data, not judged
        assert report.passed and any("outside this certificate" in n for n in report.notes)
        return
    assert not report.passed and not report.complete and report.valid is False
    assert report.unexpected == [added]
    assert any(added in p and "unexpected" in p for p in report.problems)


def test_verify_reports_a_symlink_in_place_of_a_file(tmp_path: Path, data_dir: Path, issued) -> None:
    _, cert = issued
    entry = load(cert.json_path)["partitions"][1]
    path = ready_root(data_dir) / entry["path"]
    copy = tmp_path / "elsewhere.parquet"
    shutil.copyfile(path, copy)
    path.unlink()
    path.symlink_to(copy)
    report = verify_certificate(cert.json_path)
    assert not report.passed and report.missing == [entry["path"]] and report.unexpected == [entry["path"]]


def test_verify_survives_a_mangled_certificate(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    doc["partitions"] = [42, "x"]
    doc["previous"] = ["not", "a", "dict"]
    cert.json_path.chmod(0o644)
    cert.json_path.write_bytes(canonical_bytes(doc))
    report = verify_certificate(cert.json_path)
    assert not report.passed and report.problems


def test_verify_ignores_partitions_of_other_requests(data_dir: Path, issued) -> None:
    _, cert = issued
    make_partition(StagingStore(data_dir), PartitionKey("trades", "BINANCE", "ETH-USDT", START))
    report = verify_certificate(cert.json_path)
    assert report.passed, report.text()


def test_verify_catches_a_hand_edit_without_digest(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    doc["partitions"][0]["rows"] = 999
    cert.json_path.chmod(0o644)
    cert.json_path.write_bytes(canonical_bytes(doc))
    report = verify_certificate(cert.json_path)
    assert not report.passed and not report.digest_ok and not report.signature_ok
    assert any("edited by hand" in p for p in report.problems)


def test_verify_catches_a_hand_edit_with_recomputed_digest(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    entry = doc["partitions"][0]
    flip_byte(ready_root(data_dir) / entry["path"])  # tamper with data, then "fix" the certificate
    entry["sha256"] = sha256_file(ready_root(data_dir) / entry["path"])
    del doc["digest"]
    _, stored = seal(doc)
    cert.json_path.chmod(0o644)
    cert.json_path.write_bytes(stored)
    report = verify_certificate(cert.json_path)
    assert not report.signature_ok and not report.passed  # the signature catches the forgery...
    assert report.stopped == "signature" and report.checked_files == 0  # ...before any file is read
    assert any("does not match" in p and cert.signature_path.name in p for p in report.problems)


def test_verify_catches_a_certificate_re_signed_with_another_key(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    doc["result"]["status"] = "PASSED (forged)"
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    doc["signing"]["public_key"] = base64.b64encode(raw).decode()
    doc["signing"]["fingerprint"] = fingerprint(raw)
    del doc["digest"]
    _, stored = seal(doc)
    for path in (cert.json_path, cert.signature_path):
        path.chmod(0o644)
    cert.json_path.write_bytes(stored)
    cert.signature_path.write_bytes(signature_text(forger.sign(stored)))
    report = verify_certificate(cert.json_path)
    assert report.signature_ok and report.signer_trusted is False and not report.passed
    assert verify_certificate(cert.json_path, trusted_fingerprint=cert.fingerprint).passed is False


def test_verify_catches_a_swapped_signature_file(data_dir: Path, issued) -> None:
    request, first = issued
    second = issue(data_dir, request)
    first.signature_path.chmod(0o644)
    shutil.copyfile(second.signature_path, first.signature_path)
    report = verify_certificate(first.json_path)
    assert not report.signature_ok and not report.passed
    assert verify_certificate(second.json_path).passed


def test_verify_fails_without_signature_or_on_invalid_json(data_dir: Path, issued) -> None:
    _, cert = issued
    saved = cert.signature_path.read_bytes()
    cert.signature_path.unlink()
    report = verify_certificate(cert.json_path)
    assert not report.passed and any("missing" in p and ".sig" in p for p in report.problems)
    cert.signature_path.write_bytes(saved)
    cert.json_path.chmod(0o644)
    cert.json_path.write_bytes(cert.json_path.read_bytes()[:-1])
    report = verify_certificate(cert.json_path)
    assert not report.passed and any("not a valid certificate" in p for p in report.problems)


def test_verify_elsewhere_without_local_keys_needs_a_pinned_fingerprint(
    tmp_path: Path, data_dir: Path, issued
) -> None:
    _, cert = issued
    other = tmp_path / "elsewhere"
    shutil.copytree(data_dir, other, ignore=shutil.ignore_patterns("keys"))
    moved = other / "certificates" / cert.json_path.name
    report = verify_certificate(moved)
    # intact, but nothing pins the signer: "signature valid, signer unknown" is not a pass
    assert report.intact and report.signer_trusted is None and not report.passed
    assert report.verdict == "signer_unknown" and report.exit_code == 5
    assert any("not pinned" in n for n in report.notes)
    pinned = verify_certificate(moved, trusted_fingerprint=cert.fingerprint)
    assert pinned.signer_trusted is True and pinned.passed
    assert not verify_certificate(moved, trusted_fingerprint="sha256:" + "0" * 64).passed


# -- files, keys, chain ---------------------------------------------------------------------------


def test_certificates_are_never_overwritten(data_dir: Path, issued, monkeypatch: pytest.MonkeyPatch) -> None:
    request, first = issued
    before = first.json_path.read_bytes(), first.signature_path.read_bytes()
    second = issue(data_dir, request)
    assert second.json_path != first.json_path
    assert (first.json_path.read_bytes(), first.signature_path.read_bytes()) == before
    monkeypatch.setattr("rlx_tui.certificate.issue.new_id", lambda sequence, issued_at: first.id)
    with pytest.raises(FileExistsError):
        issue(data_dir, request)
    assert (first.json_path.read_bytes(), first.signature_path.read_bytes()) == before
    assert verify_certificate(first.json_path).passed
    names = sorted(p.name for p in (data_dir / "certificates").iterdir() if not p.name.startswith("."))
    assert len([n for n in names if n.endswith(".json")]) == 2
    assert all(stat.S_IMODE((data_dir / "certificates" / n).stat().st_mode) == 0o444 for n in names)
    assert not [n for n in names if n.startswith(".tmp-")]


def test_signing_key_is_generated_once_owner_only(data_dir: Path, issued) -> None:
    request, first = issued
    key_path = default_key_path(data_dir)
    assert first.key_created
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) & 0o077 == 0
    assert key_path.parent != first.json_path.parent
    second = issue(data_dir, request)
    assert not second.key_created and second.fingerprint == first.fingerprint


def test_user_supplied_key_is_used_and_a_readable_one_refused(tmp_path: Path, data_dir: Path) -> None:
    request = make_request(days=1)
    fill(StagingStore(data_dir), request)
    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "mine.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        issue(data_dir, request, signing_key_path=key_path)
    os.chmod(key_path, 0o600)
    cert = issue(data_dir, request, signing_key_path=key_path)
    assert cert.fingerprint == fingerprint(key.public_key())
    assert not default_key_path(data_dir).exists()
    assert verify_certificate(cert.json_path).passed  # its signer was recorded as trusted here


def test_each_certificate_records_the_previous_digest(data_dir: Path, issued) -> None:
    request, first = issued
    second = issue(data_dir, request, now=NOW + dt.timedelta(days=1))
    doc = load(second.json_path)
    assert doc["previous"] == {"id": first.id, "sequence": 1, "digest": first.digest}
    assert doc["sequence"] == 2 and second.previous_digest == first.digest
    assert verify_certificate(second.json_path).chain_ok is True
    # rewriting history is caught, both when verifying and when issuing the next one
    old = load(first.json_path)
    old["totals"]["rows"] += 1
    del old["digest"]
    first.json_path.chmod(0o644)
    first.json_path.write_bytes(seal(old)[1])
    report = verify_certificate(second.json_path)
    assert report.chain_ok is False and not report.passed
    assert any(first.json_path.name in p for p in report.problems)
    with pytest.raises(ChainError, match=first.json_path.name):
        issue(data_dir, request)
    assert any(first.json_path.name in p for p in chain_problems(data_dir / "certificates"))


def test_issuing_after_an_edited_latest_certificate_is_refused(data_dir: Path, issued) -> None:
    request, first = issued
    doc = load(first.json_path)
    doc["totals"]["rows"] += 1  # digest left as it was
    first.json_path.chmod(0o644)
    first.json_path.write_bytes(canonical_bytes(doc))
    with pytest.raises(ChainError, match="edited"):
        issue(data_dir, request)
    first.json_path.unlink()
    first.signature_path.unlink()
    second = issue(data_dir, request)  # nothing left to chain to: a new history starts
    assert second.previous_digest is None


def test_ids_sort_by_sequence(data_dir: Path, issued) -> None:
    request, _ = issued
    earlier_clock = issue(data_dir, request, now=NOW - dt.timedelta(days=30))
    seqs = [s for s, _, _ in iter_certificates(data_dir / "certificates")]
    assert seqs == [1, 2] and earlier_clock.id.startswith("000002-")


def _re_signed(data_dir: Path, path: Path, doc: dict) -> None:
    """Write ``doc`` sealed and signed by the data directory's own key (as an older rlx-tui would have)."""
    from rlx_tui.certificate.signing import load_or_create_key, sign

    doc.pop("digest", None)
    _, stored = seal(doc)
    key, _ = load_or_create_key(data_dir, None)
    for p in (path, path.with_name(path.name + ".sig")):
        p.chmod(0o644)
    path.write_bytes(stored)
    path.with_name(path.name + ".sig").write_bytes(signature_text(sign(key, stored)))


def test_a_version_1_certificate_without_journals_still_verifies(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    assert doc["format_version"] == 2 and doc["journals"]["runs"] == []  # issued without run journals
    doc["format_version"] = 1
    del doc["journals"]
    _re_signed(data_dir, cert.json_path, doc)
    report = verify_certificate(cert.json_path)
    assert report.passed, report.text()
    assert report.to_dict()["journals"] == {"listed": 0, "checked": [], "missing": [], "changed": []}


def test_a_version_2_certificate_without_its_journals_block_fails(data_dir: Path, issued) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    del doc["journals"]  # signed again, so only the schema can tell
    _re_signed(data_dir, cert.json_path, doc)
    report = verify_certificate(cert.json_path)
    assert report.verdict == "fail"
    assert "list of run journals is missing or malformed" in report.headline()


@pytest.mark.parametrize(
    "entry",
    [
        {"run": 1, "path": "../../etc/passwd", "bytes": 10, "sha256": "sha256:" + "0" * 64},
        {
            "run": 2,
            "path": "runs/000001-20261201T140203Z/events.jsonl",
            "bytes": 10,
            "sha256": "sha256:" + "0" * 64,
        },
        {"run": 1, "path": "runs/000001-20261201T140203Z/events.jsonl", "bytes": 2**40, "sha256": "x"},
    ],
    ids=["outside", "another-run", "impossible-size"],
)
def test_a_hostile_journal_entry_fails_without_being_read(data_dir: Path, issued, entry: dict) -> None:
    _, cert = issued
    doc = load(cert.json_path)
    doc["journals"]["runs"] = [entry]
    _re_signed(data_dir, cert.json_path, doc)
    report = verify_certificate(cert.json_path)
    assert report.verdict == "fail" and report.journals.checked == []
    assert "not checked" in report.text()
