"""Issue a certificate: gate, hash, build, chain, sign, write. One public function."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.atomic import atomic_create_bytes, atomic_write_bytes
from rlx_tui.certificate.build import build_document
from rlx_tui.certificate.canonical import seal, sha256_tag
from rlx_tui.certificate.gate import Blocker, GateResult, RangeChecks, assess, run_range_checks
from rlx_tui.certificate.history import certificates_dir, chain_tip, issue_lock, new_id, paths_for
from rlx_tui.certificate.payload import MANIFEST_FILE, hash_files, manifest_text, payload_path, ready_root
from rlx_tui.certificate.render import render_markdown, render_summary
from rlx_tui.certificate.signing import (
    ALGORITHM,
    fingerprint,
    load_or_create_key,
    public_key_b64,
    remember_signer,
    sign,
    signature_text,
)
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.staging import DATA_FILE, SourceInfo, StagingStore


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """What was written, and the few facts a caller shows."""

    id: str
    json_path: Path
    text_path: Path
    signature_path: Path
    manifest_path: Path
    digest: str
    fingerprint: str
    partitions: int
    total_bytes: int
    synthetic: bool
    status: str
    previous_digest: str | None
    key_created: bool
    summary: str
    seconds: float


def _measure(
    data_dir: Path, root: Path, gate: GateResult, rehash: bool
) -> tuple[dict[str, str], dict[str, int], list[Blocker]]:
    """sha256 and size of every ready file, checked against what its sidecar recorded at validation."""
    rel = {p.key.id: payload_path(p.key) for p in gate.ready}
    sizes: dict[str, int] = {}
    blockers: list[Blocker] = []
    for part in gate.ready:
        try:
            info = fs_guard.lstat(data_dir, root / rel[part.key.id])
            if info is None or not fs_guard.is_regular(info):
                raise FileNotFoundError(f"{DATA_FILE} is not a regular file")
            sizes[part.key.id] = info.st_size
        except OSError as exc:
            blockers.append(Blocker("not_validated", part.key.id, f"cannot read its file: {exc}"))
    if rehash:
        computed = hash_files(root, rel.values(), base=data_dir)
        hashes = {pid: computed[path] for pid, path in rel.items()}
    else:
        hashes = {p.key.id: p.manifest.sha256 for p in gate.ready}
    for part in gate.ready:
        pid, m = part.key.id, part.manifest
        if pid not in sizes:
            continue
        digest = hashes.get(pid)
        if digest is None:
            blockers.append(Blocker("not_validated", pid, "its file could not be hashed"))
        elif digest != m.sha256:
            blockers.append(
                Blocker(
                    "not_validated",
                    pid,
                    f"file changed since validation (sha256 {digest[:12]}…, sidecar {str(m.sha256)[:12]}…)",
                )
            )
        elif sizes[pid] != m.bytes:
            blockers.append(
                Blocker("not_validated", pid, f"file size {sizes[pid]} differs from the sidecar's {m.bytes}")
            )
    return {k: v for k, v in hashes.items() if v is not None}, sizes, blockers


def _create_read_only(path: Path, data: bytes) -> None:
    """Create ``path`` (never replacing an existing file or link) and make it read-only."""
    atomic_create_bytes(path, data)
    os.chmod(path, 0o444)  # path is the file just linked into place (os.link refuses an existing name)


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def issue_certificate(
    data_dir: Path,
    request: Request,
    source: SourceInfo,
    *,
    missing_at_source: Collection[PartitionKey] = (),
    failed: Mapping[PartitionKey, str] | None = None,
    signing_key_path: Path | None = None,
    rehash: bool = True,
    now: dt.datetime | None = None,
    range_checks: RangeChecks | None = None,
    journals: Sequence[Mapping[str, Any]] = (),
) -> IssuedCertificate:
    """Certify ``request`` over ``<data_dir>/staging/ready``, or raise :class:`CertificateRefused`.

    ``rehash=True`` (the default) re-reads every ready file and compares it
    with the sha256 its sidecar recorded while it was written; that costs one
    full read of the data (seconds for small sets, long for hundreds of GB).
    ``rehash=False`` trusts the sidecars' checksums and only checks sizes; the
    certificate says which was done. ``journals`` are the run journals the
    certificate records by digest (``rlx_tui.runs.audit``). ``range_checks`` replaces the cross-day
    validator (default: ``rlx_tui.validation.continuity.validate_range``).

    Raises :class:`CertificateRefused` (with blockers), :class:`SigningKeyError`
    for an unusable key, :class:`ChainError` when the previous certificate was
    edited.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    store = StagingStore(data_dir)
    gate = assess(store, request, missing_at_source=missing_at_source, failed=failed or {})
    gate.refuse_if_blocked()
    run_range_checks(gate, request, range_checks)
    gate.refuse_if_blocked()
    root = ready_root(data_dir)
    hashes, sizes, blockers = _measure(data_dir, root, gate, rehash)
    gate.blockers.extend(blockers)
    gate.refuse_if_blocked()

    manifest = manifest_text((payload_path(p.key), hashes[p.key.id]) for p in gate.ready).encode("utf-8")
    key, created = load_or_create_key(data_dir, signing_key_path)
    public = key.public_key()
    fp = fingerprint(public)
    signing = {
        "algorithm": ALGORITHM,
        "public_key": public_key_b64(public),
        "fingerprint": fp,
        "signed": "the exact bytes of this file (canonical JSON, digest included)",
        "signature_file": None,
    }
    issued_at = _utc(now or dt.datetime.now(dt.UTC))
    directory = fs_guard.ensure_dir(data_dir, certificates_dir(data_dir))
    with issue_lock(directory, data_dir):
        previous = chain_tip(directory)
        sequence = previous["sequence"] + 1 if previous else 1
        cert_id = new_id(sequence, issued_at)
        paths = paths_for(directory, cert_id)
        signing["signature_file"] = paths.signature.name
        document = build_document(
            cert_id=cert_id,
            sequence=sequence,
            issued_at=issued_at,
            request=request,
            source=source,
            gate=gate,
            hashes=hashes,
            sizes=sizes,
            rehashed=rehash,
            manifest_sha256=sha256_tag(manifest),
            previous=previous,
            signing=signing,
            journals=journals,
        )
        sealed, stored = seal(document)
        _create_read_only(paths.signature, signature_text(sign(key, stored)))
        try:
            _create_read_only(paths.json, stored)
        except BaseException:
            paths.signature.unlink(missing_ok=True)
            raise
        _create_read_only(paths.text, render_markdown(sealed).encode("utf-8"))
        remember_signer(data_dir, fp, "default key" if signing_key_path is None else "user-supplied key")
        fs_guard.ensure_dir(data_dir, root)
        atomic_write_bytes(root / MANIFEST_FILE, manifest)
    return IssuedCertificate(
        id=cert_id,
        json_path=paths.json,
        text_path=paths.text,
        signature_path=paths.signature,
        manifest_path=root / MANIFEST_FILE,
        digest=sealed["digest"],
        fingerprint=fp,
        partitions=sealed["totals"]["partitions"],
        total_bytes=sealed["totals"]["bytes"],
        synthetic=sealed["synthetic"],
        status=sealed["result"]["status"],
        previous_digest=previous["digest"] if previous else None,
        key_created=created,
        summary=render_summary(sealed, paths.json.name),
        seconds=time.perf_counter() - started,
    )
