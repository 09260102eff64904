"""Certify panel: the certify button (disabled, with the reason, until everything is ready) and verify.

The panel issues the certificate itself: the service's certify (the same use case as
``rlx-tui certify``) runs in a thread worker of this panel, whose
:class:`~.messages.Certified` (or :class:`~.messages.TaskFailed`) it handles; it keeps
the certificate it issued.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button

from rlx_tui.service.certify import CertifyResult, certify
from rlx_tui.tui.context import DashboardContext
from rlx_tui.tui.errors import log_failure, one_line
from rlx_tui.tui.messages import Certified, Task, TaskFailed, in_thread
from rlx_tui.tui.screens import TextScreen
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import human_bytes
from rlx_tui.tui.widgets import Line

if TYPE_CHECKING:  # the certificate package loads when first used, not before the first frame
    from rlx_tui.service.certify import IssuedCertificate


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


class CertifyPanel(Vertical):
    """Issue a data readiness certificate for the request, or verify an existing one."""

    def __init__(self, context: DashboardContext, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.context = context
        self.last_certificate: Path | None = None
        self.issued: IssuedCertificate | None = None  # the certificate this panel issued last
        self.busy: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="certify-buttons"):
            yield Button("Certify (c)", id="certify", variant="success", compact=True, disabled=True)
            yield Button("Verify (v)", id="verify", compact=True)
        yield Line(id="certify-reason", fixed=True)

    def refresh_from(self, state: DashboardState) -> None:
        blocker = state.certify_blocker()
        if self.busy:
            blocker = self.busy
        button = self.query_one("#certify", Button)
        if button.disabled != (blocker is not None):
            button.disabled = blocker is not None
        if blocker is not None:
            text = f"Certify disabled: {blocker}"
        else:
            note = " (SYNTHETIC demo data)" if state.synthetic else ""
            text = f"Everything is ready{note}: press c to issue the certificate"
        if self.last_certificate is not None:
            text += f"\nLast certificate: {self.last_certificate.name}"
        reason = self.query_one("#certify-reason", Line)
        reason.show(text)
        reason.set_class(blocker is not None, "-blocked")

    # -- issuing -----------------------------------------------------------------------------------
    def certify(self) -> None:
        """Certify the request shown, in a thread, or say why that is not possible yet."""
        context = self.context
        blocker = context.state.certify_blocker()
        workspace, request = context.workspace, context.request
        if blocker is not None or request is None or workspace is None:
            self.app.notify(blocker or "nothing to certify", title="Certify disabled", severity="warning")
            return
        self._set_busy("issuing the certificate (re-hashing every ready file)…")
        in_thread(self, Task.CERTIFY, partial(certify, workspace, request), Certified)

    def _set_busy(self, busy: str | None) -> None:
        self.busy = busy
        self.refresh_from(self.context.state)

    @on(Certified)
    def _certified(self, message: Certified) -> None:
        message.stop()
        result: CertifyResult = message.result
        issued = result.issued
        self._set_busy(None)
        if issued is None:
            self.app.push_screen(TextScreen("Certificate refused", result.refusal, tone="error"))
            return
        self.issued = issued
        self.last_certificate = issued.json_path
        self.refresh_from(self.context.state)
        self.app.push_screen(
            TextScreen(f"Certificate {issued.id} issued", issued_report(issued), tone="success")
        )

    @on(TaskFailed)
    def _certify_failed(self, message: TaskFailed) -> None:
        if message.task is not Task.CERTIFY:
            return
        message.stop()
        log_failure(message)
        self._set_busy(None)
        self.app.push_screen(TextScreen("Certificate not issued", one_line(message.error), tone="error"))
