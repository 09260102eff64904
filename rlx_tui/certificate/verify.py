"""Verify a certificate: signature first, then completeness, then every checksum (BagIt's complete, valid).

Order and limits (an untrusted certificate may be hostile):

1. the file is read only if it is a regular file of bounded size, and parsed
   with bounded nesting (:func:`~rlx_tui.certificate.canonical.read_document`);
2. the signature and the digest are checked; if either fails, or the signer is
   not the pinned one, verification stops there, before any walk or hash;
3. the request must name at most :data:`~rlx_tui.limits.MAX_PLAN_PARTITIONS`
   partitions with real dates, else it is not a certificate rlx-tui issued;
4. the ready tree is compared with the listed files by the rule ``certify``
   applies (:func:`~rlx_tui.certificate.payload.compare`), and every listed
   file is re-hashed;
5. every run journal the certificate lists is re-hashed
   (:mod:`~rlx_tui.certificate.journals`: a changed one fails, naming the run; an
   absent one is a note, not a failure).

Verdicts: ``pass`` (a trusted signer, everything matches), ``signer_unknown``
(the signature is valid, the data matches, but nothing pins the signer: not a
pass), ``fail``. A signer is trusted when it is pinned with
``trusted_fingerprint`` (``--fingerprint``), or, without one, listed in the
data directory's ``keys/trusted-signers.txt`` or is its own key. The report and its
verdicts are :class:`~rlx_tui.certificate.verify_report.VerifyReport`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.certificate.canonical import DIGEST_FIELD, canonical_bytes, document_digest, read_document
from rlx_tui.certificate.history import CERT_DIR, signature_path
from rlx_tui.certificate.journals import check_journals
from rlx_tui.certificate.payload import (
    MANIFEST_FILE,
    compare,
    describe_unexpected,
    hash_files,
    key_of_payload,
    ready_root,
    scan_ready,
)
from rlx_tui.certificate.signing import (
    fingerprint,
    public_key_from_b64,
    read_signature,
    signature_matches,
    trusted_fingerprints,
    trusted_signers_path,
)
from rlx_tui.certificate.verify_report import VerifyReport
from rlx_tui.limits import MAX_PLAN_PARTITIONS, MAX_SMALL_FILE_BYTES
from rlx_tui.partitions import KeyParseError, PartitionKey, check_name, date_range
from rlx_tui.safety import shown


def _normal_fp(value: str) -> str:
    value = value.strip().lower()
    return value if value.startswith("sha256:") else "sha256:" + value


def _check_signature(report: VerifyReport, cert_path: Path, stored: bytes, doc: dict[str, Any]) -> None:
    signing = doc.get("signing")
    if not isinstance(signing, dict):
        report.problems.append("the certificate carries no signing block")
        return
    try:
        public = public_key_from_b64(str(signing.get("public_key")))
    except ValueError:
        report.problems.append("the certificate carries no usable ed25519 public key")
        return
    report.fingerprint = fingerprint(public)
    if signing.get("fingerprint") != report.fingerprint:
        report.problems.append("the certificate's key fingerprint does not match its public key")
        return
    sig_path = signature_path(cert_path)
    try:
        signature = read_signature(sig_path)
    except FileNotFoundError:
        report.problems.append(f"signature file {sig_path.name} is missing")
        return
    except (OSError, ValueError) as exc:
        report.problems.append(f"signature file {sig_path.name} is unreadable: {exc}")
        return
    report.signature_ok = signature_matches(public, signature, stored)
    if not report.signature_ok:
        report.problems.append(
            f"the signature in {sig_path.name} does not match {cert_path.name}: the certificate was "
            "changed after signing (even if its digest was recomputed), or the signature belongs to "
            "another certificate"
        )


def _check_signer(report: VerifyReport, data_dir: Path, trusted_fingerprint: str | None) -> None:
    """Is the (valid) signer pinned? ``--fingerprint`` wins; else the data directory's own trust."""
    if trusted_fingerprint:
        report.signer_trusted = report.fingerprint == _normal_fp(trusted_fingerprint)
        report.pinned_by = "--fingerprint" if report.signer_trusted else None
        if not report.signer_trusted:
            pinned = _normal_fp(trusted_fingerprint)
            report.problems.append(f"signed by {report.fingerprint}, not by the key you pinned ({pinned})")
        return
    trusted = trusted_fingerprints(data_dir)
    if trusted is None:
        report.trust_note = (
            f"signer {report.fingerprint} is not pinned: no --fingerprint given, and "
            f"{trusted_signers_path(data_dir)} and the data directory's own key are absent"
        )
        report.notes.append(report.trust_note)
        return
    if report.fingerprint in trusted:
        report.signer_trusted = True
        report.pinned_by = "keys of the data directory"
        return
    report.signer_trusted = False
    report.problems.append(
        f"signed by {report.fingerprint}, which is neither the data directory's key nor listed in "
        f"{trusted_signers_path(data_dir).name}"
    )


def _text_list(value: Any, what: str, limit: int) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > limit:
        raise ValueError(f"request {what} must be a list of 1 to {limit} names")
    for name in value:
        if not isinstance(name, str):
            raise ValueError(f"request {what} must be names")
        check_name(what, name)
    return value


def _scope(doc: dict[str, Any], listed: int) -> set[PartitionKey]:
    """Every partition of the certificate's request; ValueError for a request rlx-tui never certifies."""
    request = doc.get("request")
    if not isinstance(request, dict):
        raise ValueError("the certificate has no request")
    tables = _text_list(request.get("tables"), "table", MAX_PLAN_PARTITIONS)
    exchanges = _text_list(request.get("exchanges"), "exchange", MAX_PLAN_PARTITIONS)
    symbols = _text_list(request.get("symbols"), "symbol", MAX_PLAN_PARTITIONS)
    start, end = (
        dt.date.fromisoformat(str(request.get("start"))),
        dt.date.fromisoformat(str(request.get("end"))),
    )
    if end < start:
        raise ValueError(f"the request ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    count = len(tables) * len(exchanges) * len(symbols) * days
    if count > MAX_PLAN_PARTITIONS or listed > MAX_PLAN_PARTITIONS:
        raise ValueError(
            f"the request spans {max(count, listed):,} partitions ({start} .. {end}), more than rlx-tui "
            f"ever certifies ({MAX_PLAN_PARTITIONS:,}): not a certificate rlx-tui issued"
        )
    return {
        PartitionKey(t, e, s, d)
        for t in tables
        for e in exchanges
        for s in symbols
        for d in date_range(start, end)
    }


def _listed(report: VerifyReport, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = doc.get("partitions")
    if not isinstance(entries, list):
        raise ValueError("the certificate lists no partitions")
    if len(entries) > MAX_PLAN_PARTITIONS:
        raise ValueError(
            f"the certificate lists {len(entries):,} partitions, more than {MAX_PLAN_PARTITIONS:,}"
        )
    listed: dict[str, dict[str, Any]] = {}
    for entry in entries:
        path = str(entry.get("path")) if isinstance(entry, dict) else repr(entry)[:80]
        if not isinstance(entry, dict) or key_of_payload(path) is None:
            report.problems.append(f"{shown(path)}: listed with an unsafe or malformed path; not checked")
            report.missing.append(path)
            continue
        listed[path] = entry
    return listed


def _check_payload(
    report: VerifyReport, listed: dict[str, dict[str, Any]], scope: set[PartitionKey], data_dir: Path
) -> None:
    root = ready_root(data_dir)
    scope = scope | {k for k in (key_of_payload(p) for p in listed) if k is not None}
    try:
        inventory = scan_ready(root, frozenset(scope), base=data_dir)
    except fs_guard.UnsafePathError as exc:
        report.problems.append(f"{exc}; the data was not checked")
        report.missing.extend(sorted(listed))
        return
    if fs_guard.lstat(data_dir, root) is None:
        report.problems.append(f"no ready data at {root}")
    differences = compare(inventory, listed)
    for path in differences.missing:
        report.missing.append(path)
        report.problems.append(f"{path}: missing (listed in the certificate, not a regular file in ready)")
    for path in differences.unexpected:
        report.unexpected.append(path)
        report.problems.append(f"{path}: unexpected ({describe_unexpected(data_dir, root, path)})")
    if inventory.out_of_scope_partitions:
        report.notes.append(
            f"{inventory.out_of_scope_partitions} partition(s) in ready lie outside this certificate's "
            "request (not judged)"
        )
    report.complete = not report.missing and not report.unexpected
    present = [p for p in listed if p in inventory.payload]
    hashes = hash_files(root, present, base=data_dir)
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
    if not isinstance(previous, dict):
        report.chain_ok = False
        report.problems.append("the certificate's link to the previous one is malformed")
        return
    try:
        prev_id = check_name("certificate id", str(previous.get("id")))
    except ValueError:
        report.chain_ok = False
        report.problems.append("the certificate names a previous certificate with an unsafe id")
        return
    prev_path = cert_path.with_name(f"cert-{prev_id}.json")
    try:
        _, prev_doc = read_document(prev_path, follow=False)
    except FileNotFoundError:
        report.notes.append(f"previous certificate {prev_path.name} is not here; chain link not checked")
        return
    except (OSError, ValueError):
        report.chain_ok = False
        report.problems.append(f"previous certificate {prev_path.name} is unreadable: history was changed")
        return
    report.chain_ok = document_digest(prev_doc) == previous.get("digest")
    if not report.chain_ok:
        report.problems.append(
            f"previous certificate {prev_path.name} no longer has the digest recorded here: "
            "the history was changed"
        )


def _finish(report: VerifyReport, started: float, stopped: str | None = None) -> VerifyReport:
    report.stopped = stopped
    report.seconds = time.perf_counter() - started
    return report


def verify_certificate(
    cert_path: Path, data_dir: Path | None = None, *, trusted_fingerprint: str | None = None
) -> VerifyReport:
    """Check ``cert_path`` against the ready data of ``data_dir`` (see the module docstring).

    ``data_dir`` defaults to the directory above ``certificates/``. Reads only;
    writes nothing anywhere. Never raises for a hostile certificate or data
    directory: everything wrong is in the report.
    """
    started = time.perf_counter()
    report = VerifyReport(certificate=Path(cert_path))
    try:
        cert_path = Path(cert_path).resolve()
        report.certificate = cert_path
        if data_dir is None:
            data_dir = cert_path.parent.parent
            if cert_path.parent.name != CERT_DIR:
                report.notes.append(f"data directory assumed to be {data_dir}")
        data_dir = Path(data_dir).resolve()
    except (OSError, RuntimeError) as exc:
        report.problems.append(f"{cert_path} cannot be located: {exc}")
        return _finish(report, started, "read")
    try:
        stored, doc = read_document(cert_path)
    except fs_guard.FileRefused as exc:
        report.problems.append(f"{exc}: not a certificate")
        return _finish(report, started, "read")
    except OSError as exc:
        report.problems.append(f"{cert_path.name} cannot be read: {exc.strerror or exc}")
        return _finish(report, started, "read")
    except ValueError as exc:
        report.problems.append(f"{cert_path.name} is not a valid certificate (edited by hand?): {exc}")
        return _finish(report, started, "read")
    report.certificate_id = str(doc.get("id"))[:80]
    report.synthetic = doc.get("synthetic") is True
    try:
        _check_signature(report, cert_path, stored, doc)
        _check_digest(report, cert_path, stored, doc)  # as cheap: says whether it was edited by hand
        if not report.signature_ok:
            return _finish(report, started, "signature")
        if not report.digest_ok:
            return _finish(report, started, "digest")
        _check_signer(report, data_dir, trusted_fingerprint)
        if report.signer_trusted is False:
            return _finish(report, started, "signer")
        listed = _listed(report, doc)
        scope = _scope(doc, len(listed))
    except (KeyError, TypeError, AttributeError, ValueError, KeyParseError) as exc:
        report.problems.append(f"{cert_path.name} is malformed (edited by hand?): {str(exc)[:200]}")
        return _finish(report, started, "malformed")
    _check_payload(report, listed, scope, data_dir)
    report.journals = check_journals(doc, data_dir)
    report.problems += report.journals.problems
    report.notes += report.journals.notes
    _check_chain(report, cert_path, doc)
    _note_root_manifest(report, doc, data_dir)
    return _finish(report, started)


def _check_digest(report: VerifyReport, cert_path: Path, stored: bytes, doc: dict[str, Any]) -> None:
    report.digest_ok = doc.get(DIGEST_FIELD) == document_digest(doc)
    if not report.digest_ok:
        report.problems.append(
            f"{cert_path.name} was edited by hand: its content no longer matches its recorded digest"
        )
    if canonical_bytes(doc) != stored:
        report.notes.append(f"{cert_path.name} is not in canonical form (re-saved or edited)")


def _note_root_manifest(report: VerifyReport, doc: dict[str, Any], data_dir: Path) -> None:
    path = ready_root(data_dir) / MANIFEST_FILE
    try:
        data = fs_guard.read_file(data_dir, path, MAX_SMALL_FILE_BYTES * 256)
    except (OSError, fs_guard.FileRefused):
        return
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    payload = doc.get("payload")
    if actual != (payload.get("manifest_sha256") if isinstance(payload, dict) else None):
        report.notes.append(f"{MANIFEST_FILE} in ready describes another (later) certificate, not this one")
