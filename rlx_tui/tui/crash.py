"""An unhandled error in the dashboard: kept off the terminal, named in one line, logged without variables."""

from __future__ import annotations

import io
import re

from rich.console import Console

from rlx_tui.logs import logger
from rlx_tui.secret import Secret
from rlx_tui.settings import redact

_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*): ")  # rich's last traceback line: "TypeName: text"


class CrashReport:
    """Where Textual's report of an unhandled error goes: :attr:`console` writes into a buffer, never
    the terminal (Textual renders a traceback with local variables, which may hold anything)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.console = Console(file=self.buffer, markup=False, highlight=False, width=200)

    def message(self) -> str | None:
        """One line naming the error that ended the dashboard (only its type), or None."""
        report = self.buffer.getvalue()
        if not report.strip():
            return None
        name = "error"
        for line in reversed(report.splitlines()):
            match = _ERROR_LINE.match(line.strip())
            if match:
                name = match.group(1).rsplit(".", 1)[-1]
                break
        return f"rlx-tui: unexpected error in the dashboard ({name}); details in data/logs/rlx-tui.log"

    def log(self, secrets: tuple[str | Secret, ...]) -> None:
        """Put the error's last line (never the variables) into the log file, ``secrets`` scrubbed."""
        lines = [line.strip() for line in self.buffer.getvalue().splitlines() if line.strip()]
        summary = next((line for line in reversed(lines) if _ERROR_LINE.match(line)), "unknown error")
        logger.error("dashboard error: {}", redact(summary, secrets))
