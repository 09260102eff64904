"""loguru to a rotating file under the data directory; secrets scrubbed from every record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from rlx_tui.settings import redact

LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {message}"


def setup_logging(
    data_dir: Path,
    level: str = "INFO",
    secrets: tuple[str, ...] = (),
    extra_sink: Callable[[str], Any] | None = None,
) -> Path:
    """Send logs to ``<data_dir>/logs/rlx-tui.log`` (rotated at 20 MB, 10 kept), never the terminal.

    ``extra_sink`` receives each formatted line too (the TUI's log panel).
    Returns the log file's path.
    """
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "rlx-tui.log"
    logger.remove()

    def scrub(record: dict[str, Any]) -> None:
        record["message"] = redact(str(record["message"]), secrets)

    logger.configure(patcher=scrub)
    # diagnose=False: tracebacks must not print local variables (credentials among them)
    logger.add(
        path, level=level, format=LOG_FORMAT, rotation="20 MB", retention=10, diagnose=False, backtrace=False
    )
    if extra_sink is not None:
        logger.add(
            extra_sink,
            level=level,
            format="{time:HH:mm:ss} {level: <7} {message}",
            colorize=False,
            diagnose=False,
        )
    return path
