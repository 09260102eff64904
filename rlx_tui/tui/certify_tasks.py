"""Certificates from the dashboard: issue one, verify one, and show what came of it.

The blocking functions run in thread workers and touch no widget; :class:`CertifyTasks`
starts them and shows their outcome.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rlx_tui.partitions import Request
from rlx_tui.service.certify import CertifyResult, certify, latest_certificate, verify
from rlx_tui.tui.certify import CertifyPanel
from rlx_tui.tui.errors import one_line
from rlx_tui.tui.messages import Certified, Task, Verified, in_thread
from rlx_tui.tui.screens import TextScreen, VerifyScreen
from rlx_tui.tui.text import human_bytes

if TYPE_CHECKING:
    from rlx_tui.service.certify import IssuedCertificate, VerifyReport
    from rlx_tui.tui.app import RlxApp


def issued_report(issued: IssuedCertificate) -> str:
    """What the user reads about a certificate just issued: where it is, what it covers."""
    banner = (
        "SYNTHETIC demo data: this certificate is not about real market data.\n\n" if issued.synthetic else ""
    )
    return (
        f"{banner}Written to:\n  {issued.json_path}\n  {issued.text_path}\n\n"
        f"{issued.partitions} partitions, {human_bytes(issued.total_bytes)}, "
        f"fingerprint {issued.fingerprint}\n\n"
        f"{issued.summary}"
    )


class CertifyTasks:
    """Issues and verifies certificates for the app in thread workers.

    They post :class:`~.messages.Certified` / :class:`~.messages.Verified`; the app's
    ``@on`` handlers call the methods below with them.
    """

    def __init__(self, app: RlxApp) -> None:
        self._app = app

    # -- issuing -----------------------------------------------------------------------------------
    def certify(self) -> None:
        """Certify the app's request, or say why that is not possible yet."""
        app = self._app
        blocker = app.state.certify_blocker()
        if blocker is not None or app.request is None:
            app.notify(blocker or "nothing to certify", title="Certify disabled", severity="warning")
            return
        if app.dashboard.ready:
            app.dashboard.query_one(
                CertifyPanel
            ).busy = "issuing the certificate (re-hashing every ready file)…"
            app.refresh_now()
        work = partial(self._issue, app.request)
        in_thread(app, Task.CERTIFY, work, Certified)

    def _issue(self, request: Request) -> CertifyResult:
        """Blocking: the service's certify, the same use case as ``rlx-tui certify``."""
        assert self._app.workspace is not None
        return certify(self._app.workspace, request)

    def certified(self, result: CertifyResult) -> None:
        app = self._app
        issued = result.issued
        if issued is None:
            if app.dashboard.ready:
                app.dashboard.query_one(CertifyPanel).busy = None
            app.request_redraw()
            app.push_screen(TextScreen("Certificate refused", result.refusal, tone="error"))
            return
        app.certificate = issued
        panel = app.dashboard.query_one(CertifyPanel)
        panel.busy = None
        panel.last_certificate = issued.json_path
        app.request_redraw()
        app.push_screen(TextScreen(f"Certificate {issued.id} issued", issued_report(issued), tone="success"))

    def certify_failed(self, error: BaseException | None) -> None:
        app = self._app
        if app.dashboard.ready:
            app.dashboard.query_one(CertifyPanel).busy = None
        app.request_redraw()
        app.push_screen(TextScreen("Certificate not issued", one_line(error), tone="error"))

    # -- verifying ---------------------------------------------------------------------------------
    def latest(self) -> Path | None:
        """The newest certificate in the data directory, or None (also before the source is open)."""
        if self._app.workspace is None:
            return None
        return latest_certificate(self._app.workspace.data_dir)

    def verify(self) -> None:
        """Ask which certificate to verify (the latest is offered), then verify it in a thread."""

        def chosen(path: Path | None) -> None:
            if path is not None:
                work = partial(self._verify, path)
                in_thread(self._app, Task.VERIFY, work, Verified)

        self._app.push_screen(VerifyScreen(self.latest()), chosen)

    def _verify(self, path: Path) -> VerifyReport:
        """Blocking: the service's verify against this data directory (as ``rlx-tui verify --data-dir``)."""
        assert self._app.workspace is not None
        return verify(path, self._app.workspace.data_dir)

    def verified(self, report: VerifyReport) -> None:
        tone = "success" if report.passed else "error"
        verdicts = {"pass": "PASS", "signer_unknown": "UNTRUSTED (signer unknown)", "fail": "FAIL"}
        title = "Verification: " + verdicts.get(report.verdict, "FAIL")
        self._app.push_screen(TextScreen(title, report.text(), tone=tone))

    def verify_failed(self, text: str) -> None:
        self._app.push_screen(TextScreen("Verification failed", f"Could not verify: {text}", tone="error"))
