"""No module in ``rlx_tui/`` is longer than 400 lines unless its docstring says why (issue 12).

A long module must carry, in its module docstring, a paragraph that starts with
``One file because`` and gives the reason it is not split (a real one: what keeps the
pieces together). The test names every file that breaks the rule, with its length.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
MARKER = "One file because"


def _stated_reason(source: str) -> str | None:
    """The docstring paragraph starting with the marker, if the module has one."""
    docstring = ast.get_docstring(ast.parse(source)) or ""
    for paragraph in docstring.split("\n\n"):
        text = " ".join(paragraph.split())
        if text.startswith(MARKER) and len(text) > len(MARKER) + 20:
            return text
    return None


def long_modules_without_reason(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > MAX_LINES and _stated_reason(source) is None:
            problems.append(f"{path.relative_to(root.parent)} ({lines} lines)")
    return problems


def test_every_long_module_states_why_it_is_one_file() -> None:
    problems = long_modules_without_reason(ROOT / "rlx_tui")
    assert not problems, (
        f"modules over {MAX_LINES} lines whose docstring has no paragraph starting "
        f"{MARKER!r} (split them, or say why not): " + ", ".join(problems)
    )


def test_the_rule_catches_a_long_module_and_accepts_a_reason(tmp_path: Path) -> None:
    package = tmp_path / "rlx_tui"
    package.mkdir()
    body = "x = 1\n" * MAX_LINES
    (package / "short.py").write_text('"""Short."""\n' + "x = 1\n" * (MAX_LINES - 1))
    (package / "long.py").write_text('"""Long, and silent about it."""\n' + body)
    (package / "reasoned.py").write_text(
        f'"""Long.\n\n{MARKER} its parts share one invariant that reads best in one place.\n"""\n' + body
    )
    (package / "mumbled.py").write_text(f'"""Long.\n\n{MARKER}.\n"""\n' + body)  # no actual reason
    assert long_modules_without_reason(package) == [
        f"rlx_tui/long.py ({MAX_LINES + 1} lines)",
        f"rlx_tui/mumbled.py ({MAX_LINES + 4} lines)",
    ]
