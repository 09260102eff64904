"""Data readiness certificates: issued only when everything is ready, signed, verifiable later.

"These exact files, for this exact request, passed these exact checks."

Modules, one job each: :mod:`gate` (may we issue? what blocks?), :mod:`payload`
(what is payload in ready, hashing, the BagIt-style manifest), :mod:`build`
(the document), :mod:`canonical` (bytes and digest), :mod:`signing` (ed25519
keys and signatures), :mod:`history` (file names, chain, lock), :mod:`render`
(Markdown and summary), :mod:`issue` and :mod:`verify` (the two entry points).
"""

from __future__ import annotations

from rlx_tui.certificate.gate import BLOCKER_ORDER, Blocker, CertificateRefused, GateResult, assess
from rlx_tui.certificate.history import ChainError, certificates_dir, chain_problems, iter_certificates
from rlx_tui.certificate.issue import IssuedCertificate, issue_certificate
from rlx_tui.certificate.payload import MANIFEST_FILE
from rlx_tui.certificate.signing import SigningKeyError, default_key_path
from rlx_tui.certificate.verify import verify_certificate
from rlx_tui.certificate.verify_report import VerifyReport

__all__ = [
    "BLOCKER_ORDER",
    "MANIFEST_FILE",
    "Blocker",
    "CertificateRefused",
    "ChainError",
    "GateResult",
    "IssuedCertificate",
    "SigningKeyError",
    "VerifyReport",
    "assess",
    "certificates_dir",
    "chain_problems",
    "default_key_path",
    "issue_certificate",
    "iter_certificates",
    "verify_certificate",
]
