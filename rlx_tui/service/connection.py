"""Test the connection: does the source answer and accept the credentials; how are tables fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlx_tui.service.workspace import Workspace

if TYPE_CHECKING:
    from rlx_tui.sources.quota import Usage


@dataclass(frozen=True)
class ConnectionReport:
    """What the source said: its greeting, the transfer method per table, usage, notices."""

    message: str
    transfer_methods: dict[str, str]
    usage: Usage | None
    usage_line: str
    notices: tuple[str, ...] = field(default=())

    def to_dict(self, source: str) -> dict[str, Any]:
        """The JSON form ``rlx-tui test-connection --json`` prints."""
        return {
            "ok": True,
            "source": source,
            "message": self.message,
            "transfer_methods": self.transfer_methods,
            "usage": self.usage.to_dict() if self.usage else None,
            "notices": list(self.notices),
        }


def check_connection(ws: Workspace, tables: tuple[str, ...] = ("trades",)) -> ConnectionReport:
    """Ask the source; raises :class:`~rlx_tui.kinds.SourceError` when it does not answer or refuses."""
    message = ws.source.check_connection()
    methods = ws.transfer_methods(tables)
    usage, usage_line = ws.usage()
    return ConnectionReport(message, methods, usage, usage_line, tuple(ws.notices()))
