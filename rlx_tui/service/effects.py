"""lakeapi's process-wide side effects, held by a face for its lifetime (see :mod:`rlx_tui.sources.quiet`).

``with library_effects():`` routes stdout/stderr per thread, captures lakeapi's
warnings and log records, and sets its environment defaults; the outermost exit
puts everything back. ``rlx-tui``'s ``main()`` and the dashboard enter it.
"""

from __future__ import annotations

from rlx_tui.sources.quiet import effects_active, library_effects, terminal_stdout

__all__ = ["effects_active", "library_effects", "terminal_stdout"]
