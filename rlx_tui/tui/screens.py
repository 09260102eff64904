"""Modal screens: confirmations, partition drill-down, certificate results, detaching (verify: .verify)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from rlx_tui.tui.state import PartitionView
from rlx_tui.tui.text import human_bytes


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no, keyboard first: y or Enter on Yes, n or Escape for no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]
    # focused once composed (a y pressed before the screen was mounted cannot trip over it)
    AUTO_FOCUS = "#no"

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="modal")
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="error", compact=True)
                yield Button(f"{self.no_label} (n)", id="no", variant="primary", compact=True)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")


class TextScreen(ModalScreen[None]):
    """A scrollable read-only report (certificate, verify result, partition details)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close", id="close")]

    def __init__(self, title: str, body: Any, *, tone: str = "info") -> None:
        super().__init__(classes=f"modal tone-{tone}")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.body, classes="dialog-body", markup=False)
            yield Static("Esc / Enter: close   ↑↓ PgUp PgDn: scroll", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


def partition_report(partition_id: str, view: PartitionView | None, manifest: dict[str, Any] | None) -> Group:
    """What a person wants to know about one partition: state, numbers, findings, then the sidecar."""
    lines: list[Any] = []
    if view is not None:
        lines.append(Text.assemble(("state      ", "bold"), view.state.value))
        if view.reason:
            lines.append(Text.assemble(("reason     ", "bold"), (view.reason, "red")))
    if manifest is None:
        lines.append(
            Text("No sidecar on disk: the partition is not staged (not fetched yet, missing or failed).")
        )
        return Group(*lines)
    lines += [
        Text.assemble(("zone       ", "bold"), str(manifest.get("zone"))),
        Text.assemble(("bytes      ", "bold"), f"{human_bytes(manifest.get('bytes') or 0)}"),
        Text.assemble(("rows       ", "bold"), f"{manifest.get('rows') or 0:,}"),
        Text.assemble(("sha256     ", "bold"), str(manifest.get("sha256"))),
        Text.assemble(("first/last ", "bold"), f"{manifest.get('first_time')} … {manifest.get('last_time')}"),
        Text.assemble(("attempts   ", "bold"), str(manifest.get("attempts"))),
    ]
    if manifest.get("quarantine_reason"):
        lines.append(Text.assemble(("quarantine ", "bold red"), str(manifest["quarantine_reason"])))
    findings = manifest.get("findings") or []
    lines.append(Text(f"\nFindings ({len(findings)})", style="bold"))
    if not findings:
        lines.append(Text("  none: every check passed"))
    for finding in findings:
        style = "red" if finding.get("severity") == "error" else "yellow"
        lines.append(
            Text.assemble(
                ("  " + str(finding.get("severity", "?")).upper() + " ", style),
                (str(finding.get("check")), "bold"),
                ": ",
                str(finding.get("message")),
            )
        )
    lines.append(Text("\nSidecar (_manifest.json)", style="bold"))
    lines.append(Text(json.dumps(manifest, indent=2, sort_keys=True, default=str)))
    return Group(*lines)


class DetachScreen(ModalScreen[str | None]):
    """Leaving a dashboard attached to a detached run: detach (d), stop the run (s), or stay (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "answer('detach')", "Detach", id="detach-detach"),
        Binding("s", "answer('stop')", "Stop the run", id="detach-stop"),
        Binding("escape,n", "stay", "Stay", id="detach-stay"),
    ]

    def __init__(self, number: int) -> None:
        super().__init__(classes="modal")
        self.number = number

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"Run {self.number} runs in the background.\n\nDetach: the run goes on "
                "(`rlx-tui attach` shows it again). Stop: it stops after the partitions in flight.",
                classes="dialog-body",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Detach (d)", id="detach", variant="primary", compact=True)
                yield Button("Stop the run (s)", id="stop", variant="error", compact=True)
                yield Button("Stay (esc)", id="stay", compact=True)

    def on_mount(self) -> None:
        self.query_one("#detach", Button).focus()

    def action_answer(self, choice: str) -> None:
        self.dismiss(choice)

    def action_stay(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "stay" else event.button.id)
