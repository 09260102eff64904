"""Where the dashboard's stylesheets are: packaged with rlx_tui, or at the repository root."""

from __future__ import annotations

from pathlib import Path, PurePath

import rlx_tui


def stylesheet_dir() -> Path:
    """The styles folder: inside the installed package first, else the repository root."""
    packaged = Path(rlx_tui.__file__).resolve().parent / "styles"
    if packaged.is_dir():
        return packaged
    return Path(rlx_tui.__file__).resolve().parent.parent / "styles"


def stylesheets() -> list[str | PurePath]:
    """Every ``*.tcss`` file of the styles folder, in name order (the type Textual's ``CSS_PATH`` takes)."""
    return list(sorted(stylesheet_dir().glob("*.tcss")))
