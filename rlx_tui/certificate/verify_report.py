"""What verifying a certificate found: the checks that held, the differences, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui.certificate.journals import JournalCheck

EXIT_PASS = 0
EXIT_NOT_VERIFIED = 5  # the CLI's exit code for every verdict but pass


@dataclass(slots=True)
class VerifyReport:
    """The outcome. ``passed`` needs a matching, trusted signature, the digest, complete and valid."""

    certificate: Path
    certificate_id: str | None = None
    fingerprint: str | None = None
    synthetic: bool = False
    signature_ok: bool = False
    signer_trusted: bool | None = None  # None: nothing pins the signer (not a pass)
    pinned_by: str | None = None  # "--fingerprint", "trusted-signers", or None
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
    journals: JournalCheck = field(default_factory=JournalCheck)  # the run journals (format 2)
    stopped: str | None = None  # why verification stopped before the data ("signature", "scope"...)
    trust_note: str | None = None  # why the signer is unknown (the headline says it already)

    @property
    def intact(self) -> bool:
        """Signature, digest, chain, completeness and checksums all hold (whoever signed)."""
        return (
            self.signature_ok
            and self.digest_ok
            and self.chain_ok is not False
            and self.stopped is None
            and self.complete
            and self.valid
            and self.journals.ok
        )

    @property
    def passed(self) -> bool:
        """Intact and signed by a trusted key. A valid signature by an unknown key is not a pass."""
        return self.intact and self.signer_trusted is True

    @property
    def verdict(self) -> str:
        """``pass``, ``signer_unknown`` (intact, but nothing pins the signer) or ``fail``."""
        if self.passed:
            return "pass"
        if self.intact and self.signer_trusted is None:
            return "signer_unknown"
        return "fail"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 pass, 5 for every other verdict."""
        return EXIT_PASS if self.passed else EXIT_NOT_VERIFIED

    def headline(self) -> str:
        """One line: the verdict and why."""
        checked = f"complete={self.complete} valid={self.valid} ({self.checked_files} files checked)"
        short_fp = f"{self.fingerprint[:23]}…" if self.fingerprint else "unknown"
        if self.verdict == "pass":
            return f"PASS: {checked} signature=ok signer={short_fp} (trusted: {self.pinned_by})"
        if self.verdict == "signer_unknown":
            return (
                f"UNTRUSTED: signature valid, signer unknown ({self.fingerprint}); {checked}; not a pass: "
                "pin the signer with --fingerprint or in keys/trusted-signers.txt (see SECURITY.md)"
            )
        if self.stopped is not None:
            return f"FAIL: {self.problems[0] if self.problems else self.stopped}; stopped before the data"
        signature = "ok" if self.signature_ok else "BAD"
        if self.signature_ok and self.signer_trusted is None:
            signature += ", signer unknown"
        journal = f"{self.journals.problems[0]}; " if self.journals.problems else ""
        return f"FAIL: {journal}{checked} signature={signature}"

    def text(self) -> str:
        """The headline, then every problem and note, indented."""
        lines = [self.headline() + (" [SYNTHETIC data]" if self.synthetic else "")]
        skip = 1 if self.stopped is not None and self.problems else 0
        lines += [f"  - {p}" for p in self.problems[skip:]]
        lines += [f"  note: {n}" for n in self.notes if n != self.trust_note]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report for ``--json``."""
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "certificate": str(self.certificate),
            "certificate_id": self.certificate_id,
            "synthetic": self.synthetic,
            "signature_ok": self.signature_ok,
            "signer": {
                "fingerprint": self.fingerprint,
                "trusted": self.signer_trusted,
                "pinned_by": self.pinned_by,
            },
            "digest_ok": self.digest_ok,
            "chain_ok": self.chain_ok,
            "complete": self.complete,
            "valid": self.valid,
            "modified": self.modified,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "problems": self.problems,
            "notes": self.notes,
            "checked_files": self.checked_files,
            "checked_bytes": self.checked_bytes,
            "journals": self.journals.to_dict(),
            "stopped": self.stopped,
        }
