"""Where certificates live, how they are named, and the append-only chain.

``<data_dir>/certificates/cert-<id>.json`` (+ ``.json.sig``, ``.md``). The id
is ``<sequence:06d>-<issued YYYYMMDDTHHMMSSZ>-<4 random hex>``: sortable by
sequence, readable, unique. Each certificate records ``previous`` = the id,
sequence and digest of the certificate with the highest sequence before it.

Files are created with :func:`atomic_create_bytes` (temporary file + hard link),
which never replaces an existing file. On POSIX an exclusive ``flock`` on
``certificates/.lock`` serialises issuers, so two runs cannot both take the
same sequence number and fork the chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.certificate.canonical import DIGEST_FIELD, document_digest, read_document

CERT_DIR = "certificates"
_CERT_NAME = re.compile(r"^cert-(?P<id>(?P<seq>\d{6,})-\d{8}T\d{6}Z-[0-9a-f]{4})\.json$")

if sys.platform != "win32":  # POSIX only; elsewhere issuing is not serialised across processes
    import fcntl


class ChainError(Exception):
    """The previous certificate does not match its own digest: history was edited."""


@dataclass(frozen=True, slots=True)
class CertificatePaths:
    json: Path
    signature: Path
    text: Path


def certificates_dir(data_dir: Path) -> Path:
    return Path(data_dir) / CERT_DIR


def new_id(sequence: int, issued_at: dt.datetime) -> str:
    stamp = issued_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{sequence:06d}-{stamp}-{secrets.token_hex(2)}"


def paths_for(directory: Path, cert_id: str) -> CertificatePaths:
    base = directory / f"cert-{cert_id}.json"
    return CertificatePaths(json=base, signature=signature_path(base), text=base.with_suffix(".md"))


def signature_path(cert_path: Path) -> Path:
    return cert_path.with_name(cert_path.name + ".sig")


def iter_certificates(directory: Path) -> Iterator[tuple[int, str, Path]]:
    """(sequence, id, path) of every certificate file in ``directory``, by sequence."""
    if not directory.is_dir():
        return
    found = []
    for path in directory.iterdir():
        match = _CERT_NAME.match(path.name)
        if match:
            found.append((int(match["seq"]), match["id"], path))
    yield from sorted(found)


def _load(path: Path) -> dict[str, Any]:
    """A certificate of this directory: bounded, never through a link (FileRefused is a ValueError)."""
    return read_document(path, follow=False)[1]


def _problems_of(directory: Path, path: Path, document: dict[str, Any]) -> list[str]:
    """What is wrong with one certificate's own digest and its link to the one before."""
    problems = []
    if document.get(DIGEST_FIELD) != document_digest(document):
        problems.append(f"{path.name} was edited after it was issued (its digest no longer matches)")
    previous = document.get("previous")
    if previous:
        prev_path = directory / f"cert-{previous.get('id')}.json"
        try:
            prev_digest = document_digest(_load(prev_path))
        except (OSError, ValueError):
            problems.append(f"{path.name} follows {prev_path.name}, which is missing or unreadable")
        else:
            if prev_digest != previous.get("digest"):
                problems.append(f"{prev_path.name} no longer has the digest {path.name} recorded for it")
    return problems


def chain_tip(directory: Path) -> dict[str, Any] | None:
    """``{"id", "sequence", "digest"}`` of the latest certificate; :class:`ChainError` if tampered.

    Checks the latest certificate's own digest and its link to the one before
    (two files, so issuing stays fast); :func:`chain_problems` walks it all.
    """
    latest = None
    for latest in iter_certificates(directory):  # noqa: B007 - want the last one
        pass
    if latest is None:
        return None
    sequence, cert_id, path = latest
    try:
        document = _load(path)
    except (OSError, ValueError) as exc:
        raise ChainError(f"{path.name} cannot be read: {exc}") from exc
    problems = _problems_of(directory, path, document)
    if problems:
        raise ChainError("; ".join(problems))
    return {"id": cert_id, "sequence": sequence, "digest": document[DIGEST_FIELD]}


def chain_problems(directory: Path) -> list[str]:
    """Every break in the history: edited certificates, broken links, gaps in the sequence."""
    problems: list[str] = []
    expected_seq = 1
    for sequence, _, path in iter_certificates(directory):
        if sequence != expected_seq:
            problems.append(f"{path.name}: sequence {sequence}, expected {expected_seq} (one removed?)")
        expected_seq = sequence + 1
        try:
            problems += _problems_of(directory, path, _load(path))
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name} cannot be read: {exc}")
    return problems


@contextlib.contextmanager
def issue_lock(directory: Path, data_dir: Path | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (POSIX); a plain no-op elsewhere.

    The lock file is opened without following links (from ``data_dir``, the
    directory above ``certificates`` by default).
    """
    base = Path(data_dir) if data_dir is not None else Path(directory).parent
    fs_guard.ensure_dir(base, Path(directory))
    if sys.platform == "win32":  # pragma: no cover - no fcntl
        yield
        return
    fd = fs_guard.open_file(base, Path(directory) / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
