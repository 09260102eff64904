"""Certify panel: the certify button (disabled, with the reason, until everything is ready) and verify."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button

from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.widgets import Line


class CertifyPanel(Vertical):
    """Issue a data readiness certificate for the request, or verify an existing one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.last_certificate: Path | None = None
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
