"""Certify a request and verify a certificate: the gate's inputs computed once, for both faces.

:func:`certify` lists the source for the request (a certificate states exactly what
was asked: no clamping), takes the days the source does not hold as *missing at
source*, and the partitions this workspace's runs saw fail as *failed* (their cause
goes into the blockers). The CLI and the dashboard both call it, so the same data
directory gives the same certificate, or the same blockers, from either face.
It holds the data directory's lock while it issues (a live run holds it: certify is
refused then, :attr:`CertifyProblem.BUSY`), and records every finished run's journal
by digest (:mod:`rlx_tui.runs.audit`).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.runs.audit import JournalProblem, finished_journals
from rlx_tui.service.errors import CertifyFailed, CertifyProblem, UnreadableCertificate
from rlx_tui.service.plans import clamp_to_listing
from rlx_tui.service.requests import RequestError, check_plan_size
from rlx_tui.service.workspace import Workspace
from rlx_tui.staging import StoreBusy

if TYPE_CHECKING:  # the certificate package (cryptography, importlib.metadata) loads when first used
    from rlx_tui.certificate import Blocker, IssuedCertificate, VerifyReport

_REEXPORTED = ("Blocker", "IssuedCertificate", "VerifyReport")

__all__ = [
    "Blocker",
    "CertifyResult",
    "IssuedCertificate",
    "VerifyReport",
    "certify",
    "latest_certificate",
    "missing_at_source",
    "verify",
]


def __getattr__(name: str) -> Any:
    """``Blocker``, ``IssuedCertificate`` and ``VerifyReport``, imported when first asked for."""
    if name in _REEXPORTED:
        import rlx_tui.certificate

        return getattr(rlx_tui.certificate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class CertifyResult:
    """A certificate issued, or the blockers that refused it (in the gate's order)."""

    issued: IssuedCertificate | None
    blockers: tuple[Blocker, ...] = ()
    refusal: str = ""  # the blockers as the gate words them, one per line

    @property
    def ok(self) -> bool:
        return self.issued is not None


def missing_at_source(ws: Workspace, request: Request) -> list[PartitionKey]:
    """The request's partitions the source does not list (after checking the names and the size)."""
    listing = ws.listing(request)
    ws.check_request(request, listing)
    try:
        check_plan_size(request)
    except RequestError as exc:
        held, _ = clamp_to_listing(request, listing)
        raise RequestError(f"{exc}; the source holds {held.start} .. {held.end} of it") from None
    return [key for key in request.partitions() if key not in listing.objects]


def certify(ws: Workspace, request: Request, *, signing_key: Path | None = None) -> CertifyResult:
    """Issue the certificate of ``request`` (re-hashes every ready file), or say what blocks it.

    Raises :class:`RequestError` (names, size), :class:`~rlx_tui.kinds.SourceError`
    (the listing failed) and :class:`CertifyFailed` (an unusable signing key, an
    edited chain).
    """
    from rlx_tui.certificate import CertificateRefused, ChainError, SigningKeyError, issue_certificate

    missing = missing_at_source(ws, request)
    failed = {key: cause for key, cause in ws.failures.items() if key not in missing}
    try:
        with ws.store.lock():  # no run works in the data directory meanwhile (a detached one holds it)
            journals = [j.to_dict() for j in finished_journals(ws.data_dir)]
            issued = issue_certificate(
                ws.data_dir,
                request,
                ws.info,
                missing_at_source=missing,
                failed=failed,
                signing_key_path=signing_key,
                journals=journals,
            )
    except StoreBusy:
        raise CertifyFailed(
            f"a run is working in {ws.data_dir}: certify once it has ended (`rlx-tui status` shows it)",
            CertifyProblem.BUSY,
        ) from None
    except JournalProblem as exc:
        raise CertifyFailed(str(exc), CertifyProblem.JOURNAL) from None
    except SigningKeyError as exc:
        raise CertifyFailed(str(exc), CertifyProblem.SIGNING_KEY) from None
    except ChainError as exc:
        raise CertifyFailed(str(exc), CertifyProblem.CHAIN) from None
    except CertificateRefused as exc:
        return CertifyResult(None, tuple(exc.blockers), str(exc))
    return CertifyResult(issued)


def verify(path: Path, data_dir: Path | None = None, *, fingerprint: str | None = None) -> VerifyReport:
    """Check the certificate at ``path`` against ``data_dir`` (default: the one holding it).

    Raises :class:`UnreadableCertificate` when ``path`` is not a readable regular file;
    everything wrong with a certificate itself is in the report.
    """
    from rlx_tui.certificate import verify_certificate

    try:
        info = path.stat()
    except FileNotFoundError:
        raise UnreadableCertificate(
            f"certificate {path} not found: give the path to a cert-*.json file"
        ) from None
    except (OSError, RuntimeError) as exc:
        raise UnreadableCertificate(
            f"certificate {path} cannot be read ({exc}): give the path to a cert-*.json file"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableCertificate(
            f"certificate {path} is not a regular file: give the path to a cert-*.json file"
        )
    return verify_certificate(path, data_dir, trusted_fingerprint=fingerprint)


def latest_certificate(data_dir: Path) -> Path | None:
    """The newest certificate in ``data_dir``, or None."""
    from rlx_tui.certificate import certificates_dir, iter_certificates

    try:
        found = sorted(iter_certificates(certificates_dir(data_dir)))
    except OSError:
        return None
    if not found:
        return None
    path: Path = found[-1][2]
    return path
