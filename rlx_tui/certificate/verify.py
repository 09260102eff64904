"""Verify a certificate: signature, then completeness, then every checksum (BagIt's complete and valid)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui.certificate.canonical import DIGEST_FIELD, canonical_bytes, document_digest
from rlx_tui.certificate.history import CERT_DIR, signature_path
from rlx_tui.certificate.payload import MANIFEST_FILE, hash_files, key_of_payload, ready_root, scan_ready
from rlx_tui.certificate.signing import (
    fingerprint,
    public_key_from_b64,
    read_signature,
    signature_matches,
    trusted_fingerprints,
)
from rlx_tui.partitions import PartitionKey, date_range


@dataclass(slots=True)
class VerifyReport:
    """The outcome. ``passed`` needs a matching, trusted signature, the digest, complete and valid."""

    certificate: Path
    certificate_id: str | None = None
    fingerprint: str | None = None
    synthetic: bool = False
    signature_ok: bool = False
    signer_trusted: bool | None = None  # None: nothing to compare the signer with
    digest_ok: bool = False
    chain_ok: bool | None = None  # None: no previous certificate, or it is not at hand
    complete: bool = False
    valid: bool = False
    modified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked_files: int = 0
    checked_bytes: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.signature_ok
            and self.signer_trusted is not False
            and self.digest_ok
            and self.chain_ok is not False
            and self.complete
            and self.valid
        )

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail (for a CLI)."""
        return 0 if self.passed else 1

    def text(self) -> str:
        """A short human report: verdict, the BagIt words, then every problem."""
        verdict = "PASS" if self.passed else "FAIL"
        trust = (
            ""
            if self.signer_trusted is None
            else ", signer " + ("trusted" if self.signer_trusted else "NOT trusted")
        )
        lines = [
            f"{verdict}: certificate {self.certificate_id or self.certificate.name}"
            + (" (SYNTHETIC data)" if self.synthetic else ""),
            f"  signature {'ok' if self.signature_ok else 'BAD'}"
            + trust
            + f"; digest {'ok' if self.digest_ok else 'BAD'}",
            f"  {'complete' if self.complete else 'NOT complete'}, {'valid' if self.valid else 'NOT valid'}: "
            f"{self.checked_files} files re-hashed in {self.seconds:.2f} s",
        ]
        lines += [f"  - {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _normal_fp(value: str) -> str:
    value = value.strip().lower()
    return value if value.startswith("sha256:") else "sha256:" + value


def _check_signature(
    report: VerifyReport, cert_path: Path, stored: bytes, doc: dict[str, Any], trusted: set[str] | None
) -> None:
    signing = doc.get("signing") or {}
    try:
        public = public_key_from_b64(str(signing.get("public_key")))
    except ValueError:
        report.problems.append("the certificate carries no usable ed25519 public key")
        return
    report.fingerprint = fingerprint(public)
    if signing.get("fingerprint") != report.fingerprint:
        report.problems.append("the certificate's key fingerprint does not match its public key")
    sig_path = signature_path(cert_path)
    try:
        signature = read_signature(sig_path)
    except FileNotFoundError:
        report.problems.append(f"signature file {sig_path.name} is missing")
        return
    except (OSError, ValueError) as exc:
        report.problems.append(f"signature file {sig_path.name} is unreadable: {exc}")
        return
    report.signature_ok = signature_matches(public, signature, stored) and not any(
        "fingerprint" in p for p in report.problems
    )
    if not report.signature_ok:
        report.problems.append(
            f"the signature in {sig_path.name} does not match {cert_path.name}: the certificate was "
            "changed after signing (even if its digest was recomputed), or the signature belongs to "
            "another certificate"
        )
    if trusted is None:
        report.notes.append(
            f"signer {report.fingerprint} not pinned: no trusted fingerprint given and none known here"
        )
        return
    report.signer_trusted = report.fingerprint in trusted
    if not report.signer_trusted:
        report.problems.append(f"signed by {report.fingerprint}, which is not a trusted key")


def _scope(doc: dict[str, Any]) -> set[PartitionKey]:
    request = doc["request"]
    days = list(date_range(dt.date.fromisoformat(request["start"]), dt.date.fromisoformat(request["end"])))
    return {
        PartitionKey(t, e, s, d)
        for t in request["tables"]
        for e in request["exchanges"]
        for s in request["symbols"]
        for d in days
    }


def _check_payload(report: VerifyReport, doc: dict[str, Any], root: Path) -> None:
    listed: dict[str, dict[str, Any]] = {}
    scope: set[PartitionKey] = set()
    for entry in doc.get("partitions") or []:
        path = str(entry.get("path"))
        key = key_of_payload(path)
        if key is None:
            report.problems.append(f"{path}: listed with an unsafe or malformed path; not checked")
            report.missing.append(path)
            continue
        listed[path] = entry
        scope.add(key)
    try:
        scope |= _scope(doc)
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"the certificate's request cannot be read ({exc}); only listed files checked")
    inventory = scan_ready(root, frozenset(scope))
    if not root.is_dir():
        report.problems.append(f"no ready data at {root}")
    for path in sorted(listed):
        if path not in inventory.payload:
            report.missing.append(path)
            report.problems.append(f"{path}: missing (listed in the certificate, not in ready)")
    extra = sorted([*inventory.unexpected, *(p for p in inventory.payload if p not in listed)])
    for path in extra:
        report.unexpected.append(path)
        report.problems.append(f"{path}: unexpected (in ready, not listed in the certificate)")
    if inventory.out_of_scope_partitions:
        report.notes.append(
            f"{inventory.out_of_scope_partitions} partition(s) in ready lie outside this certificate's "
            "request (not judged)"
        )
    report.complete = not report.missing and not report.unexpected
    present = [p for p in listed if p in inventory.payload]
    hashes = hash_files(root, present)
    report.checked_files = len(present)
    report.checked_bytes = sum(inventory.payload[p] for p in present)
    for path in present:
        expected, actual = listed[path].get("sha256"), hashes[path]
        if actual is None:
            report.modified.append(path)
            report.problems.append(f"{path}: could not be read")
        elif actual != expected or inventory.payload[path] != listed[path].get("bytes"):
            report.modified.append(path)
            report.problems.append(
                f"{path}: modified (sha256 {actual[:16]}…, certificate says {str(expected)[:16]}…)"
            )
    report.modified.sort()
    report.valid = report.complete and not report.modified


def _check_chain(report: VerifyReport, cert_path: Path, doc: dict[str, Any]) -> None:
    previous = doc.get("previous")
    if not previous:
        return
    prev_path = cert_path.with_name(f"cert-{previous.get('id')}.json")
    try:
        prev_doc = json.loads(prev_path.read_bytes())
    except FileNotFoundError:
        report.notes.append(f"previous certificate {prev_path.name} is not here; chain link not checked")
        return
    except (OSError, ValueError):
        report.chain_ok = False
        report.problems.append(f"previous certificate {prev_path.name} is unreadable: history was changed")
        return
    report.chain_ok = isinstance(prev_doc, dict) and document_digest(prev_doc) == previous.get("digest")
    if not report.chain_ok:
        report.problems.append(
            f"previous certificate {prev_path.name} no longer has the digest recorded here: "
            "the history was changed"
        )


def verify_certificate(
    cert_path: Path, data_dir: Path | None = None, *, trusted_fingerprint: str | None = None
) -> VerifyReport:
    """Check ``cert_path`` against the ready data of ``data_dir``.

    ``data_dir`` defaults to the directory above ``certificates/``.
    ``trusted_fingerprint`` pins the signer; without it the data directory's own
    key and recorded signers are trusted, and with none of those the signer is
    reported as not pinned (a note, not a failure). Every check runs even after
    one fails, so the report lists everything wrong at once.
    """
    started = time.perf_counter()
    cert_path = Path(cert_path).resolve()
    report = VerifyReport(certificate=cert_path)
    if data_dir is None:
        data_dir = cert_path.parent.parent
        if cert_path.parent.name != CERT_DIR:
            report.notes.append(f"data directory assumed to be {data_dir}")
    data_dir = Path(data_dir).resolve()
    try:
        stored = cert_path.read_bytes()
        doc = json.loads(stored)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except OSError as exc:
        report.problems.append(f"{cert_path.name} cannot be read: {exc}")
        report.seconds = time.perf_counter() - started
        return report
    except ValueError as exc:
        report.problems.append(f"{cert_path.name} is not a valid certificate (edited by hand?): {exc}")
        report.seconds = time.perf_counter() - started
        return report
    report.certificate_id = str(doc.get("id"))
    report.synthetic = bool(doc.get("synthetic"))
    trusted = {_normal_fp(trusted_fingerprint)} if trusted_fingerprint else trusted_fingerprints(data_dir)
    try:
        _check_signature(report, cert_path, stored, doc, trusted)
        _check_digest(report, cert_path, stored, doc)
        root = ready_root(data_dir)
        _check_payload(report, doc, root)
        _check_chain(report, cert_path, doc)
        _note_root_manifest(report, doc, root)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a hand-made or mangled document
        report.valid = report.complete = False
        report.problems.append(f"{cert_path.name} is malformed (edited by hand?): {exc!r}")
    report.seconds = time.perf_counter() - started
    return report


def _check_digest(report: VerifyReport, cert_path: Path, stored: bytes, doc: dict[str, Any]) -> None:
    report.digest_ok = doc.get(DIGEST_FIELD) == document_digest(doc)
    if not report.digest_ok:
        report.problems.append(
            f"{cert_path.name} was edited by hand: its content no longer matches its recorded digest"
        )
    if canonical_bytes(doc) != stored:
        report.notes.append(f"{cert_path.name} is not in canonical form (re-saved or edited)")


def _note_root_manifest(report: VerifyReport, doc: dict[str, Any], root: Path) -> None:
    path = root / MANIFEST_FILE
    try:
        actual = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return
    if actual != (doc.get("payload") or {}).get("manifest_sha256"):
        report.notes.append(f"{MANIFEST_FILE} in ready describes another (later) certificate, not this one")
