"""Verifying a certificate from the dashboard: a dialog asks which one, verifies it, hands back the report.

:class:`VerifyScreen` owns the job: the service's verify (the same use case as
``rlx-tui verify --data-dir``) runs in a thread worker of the dialog, which says
"verifying…" meanwhile and is dismissed with the report to show
(:class:`~.screens.TextScreen`), or with None when cancelled.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rlx_tui.service.certify import verify
from rlx_tui.tui.errors import log_failure
from rlx_tui.tui.messages import Task, TaskFailed, Verified, in_thread
from rlx_tui.tui.screens import TextScreen

if TYPE_CHECKING:  # the certificate package loads when first used, not before the first frame
    from rlx_tui.service.certify import VerifyReport

VERDICTS = {"pass": "PASS", "signer_unknown": "UNTRUSTED (signer unknown)", "fail": "FAIL"}
HINT = "Enter: verify   Esc: cancel"
VERIFYING = "verifying… (re-hashing every ready file)   Esc: cancel"


def report_screen(report: VerifyReport) -> TextScreen:
    """The verdict and the report, as the user reads them."""
    tone = "success" if report.passed else "error"
    title = "Verification: " + VERDICTS.get(report.verdict, "FAIL")
    return TextScreen(title, report.text(), tone=tone)


class VerifyScreen(ModalScreen[TextScreen | None]):
    """Ask which certificate to verify (the latest one offered), then verify it against ``data_dir``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="verify-cancel")]

    def __init__(self, default: Path | None, data_dir: Path) -> None:
        super().__init__(classes="modal")
        self.default = default
        self.data_dir = data_dir
        self.verifying = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Verify a certificate: path to a cert-*.json file", classes="dialog-title")
            yield Input(
                str(self.default or ""), id="verify-path", placeholder="data/certificates/cert-….json"
            )
            yield Static(HINT, id="verify-hint", classes="dialog-hint")

    @on(Input.Submitted, "#verify-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self.dismiss(None)
            return
        if self.verifying:
            return
        self.verifying = True
        self.query_one("#verify-hint", Static).update(VERIFYING)
        work = partial(verify, Path(value).expanduser(), self.data_dir)
        in_thread(self, Task.VERIFY, work, Verified)

    @on(Verified)
    def _verified(self, message: Verified) -> None:
        message.stop()
        self.dismiss(report_screen(message.report))

    @on(TaskFailed)
    def _verify_failed(self, message: TaskFailed) -> None:
        if message.task is not Task.VERIFY:
            return
        message.stop()
        text = log_failure(message)
        self.dismiss(TextScreen("Verification failed", f"Could not verify: {text}", tone="error"))

    def action_cancel(self) -> None:
        self.dismiss(None)
