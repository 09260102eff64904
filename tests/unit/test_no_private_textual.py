"""No private Textual member is used in ``rlx_tui/`` or ``tests/``: Textual may rename them in any release.

The rule, checked on the syntax tree of every ``.py`` file in both trees (a ``_name`` is one
leading underscore, not a ``__dunder__``; ``getattr``/``setattr``/``hasattr`` with a string
constant count as attribute access):

1. ``x._name`` on anything but ``self``/``cls``/``super()`` is allowed only when ``_name`` is
   defined by our own code (a ``def``, a class attribute, a module global or a
   ``self._name = ...`` in ``rlx_tui/`` or ``tests/``) and Textual's package defines or uses no
   member of that name. ``app.screen._compositor`` and ``self.app._driver`` fail here.
2. ``self._name``/``cls._name``/``super()._name`` in a class derived from a Textual class is
   allowed only when no Textual class in its MRO defines or uses ``_name``: reading Textual's
   private state (``self._data`` in a DataTable subclass) fails here, and so does shadowing it
   with an attribute of our own, which would overwrite Textual's.
3. The names this project once read are forbidden on anything: ``_compositor``, ``_data``,
   ``_update_count``, ``_row_render_cache``, ``_cell_render_cache``, ``_line_cache``, ...

Privates of other libraries are not this test's business, but rule 1 cannot tell whose a
name is; they are listed in ``NOT_TEXTUAL`` by file and expression, so that a new one fails.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import textual

ROOT = Path(__file__).resolve().parents[2]
TREES = ("rlx_tui", "tests")
ALWAYS_FORBIDDEN = frozenset(
    {
        "_compositor",
        "_data",
        "_update_count",
        "_row_render_cache",
        "_cell_render_cache",
        "_row_renderable_cache",
        "_line_cache",
        "_row_locations",
        "_column_locations",
        "_get_offsets",
        "_driver",
        "_writer_thread",
    }
)
NOT_TEXTUAL = frozenset(
    {
        ("rlx_tui/cli/program.py", "os._exit"),  # the standard library's documented immediate exit
        ("rlx_tui/service/run.py", "os._exit"),
        ("tests/functional/test_demo_lake.py", "main._login"),  # lakeapi's module state, reset between tests
        ("tests/functional/test_demo_lake.py", "lakeapi._config"),
        ("rlx_tui/runs/host.py", "os._exit"),
        ("tests/functional/prewarmed.py", "os._exit"),  # a forked child leaves without module teardown
        # botocore's API call, restored on our own clients against lakeapi's leaked botocache patch
        # (see the module's docstring; a test in test_service_listing.py reproduces the leak)
        ("rlx_tui/sources/clients.py", "_BASE_CLIENT._make_api_call"),
        ("rlx_tui/sources/clients.py", "client._make_api_call"),
    }
)
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def assigned(statement: ast.stmt) -> Iterator[str]:
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                yield node.id


@cache
def textual_private_names() -> frozenset[str]:
    """Every private name Textual's package defines or uses: ``._x``, ``def _x``, ``class _X``, ``_x =``."""
    pattern = re.compile(
        r"\.(_[A-Za-z0-9]\w*)|\b(?:def|class)\s+(_[A-Za-z0-9]\w*)|^\s*(_[A-Za-z0-9]\w*)\s*[:=]", re.M
    )
    names: set[str] = set()
    for path in Path(textual.__file__).parent.rglob("*.py"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.update(group for group in match.groups() if group)
    return frozenset(name for name in names if is_private(name))


@cache
def textual_classes_in(path: str) -> dict[str, frozenset[str]]:
    """For each class of one Textual source file (by qualified name): the private names it
    defines, or uses on ``self``/``cls``."""
    found: dict[str, frozenset[str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = f"{prefix}{child.name}"
                names = {n for statement in child.body for n in assigned(statement)}
                for inner in ast.walk(child):
                    if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        names.add(inner.name)
                    elif isinstance(inner, ast.Attribute) and is_self(inner.value):
                        names.add(inner.attr)
                names = {n for n in names if is_private(n)}
                found[name] = frozenset(names)
                visit(child, f"{name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{prefix}{child.name}.<locals>.")

    visit(ast.parse(Path(path).read_text(encoding="utf-8")), "")
    return found


def textual_class_names(cls: type) -> frozenset[str]:
    """The private names one Textual class defines, or uses on ``self``/``cls``, in its own source."""
    names = {name for name in vars(cls) if is_private(name)}
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path is not None:
        names |= textual_classes_in(path).get(cls.__qualname__, frozenset())
    return frozenset(names)


@cache
def our_private_names() -> frozenset[str]:
    """Private names our code defines: ``self._x =``, ``def _x``, ``class _X``, ``_x =`` (by regex)."""
    pattern = re.compile(
        r"\b(?:self|cls)\.(_\w+)\s*(?::[^=\n]*)?=(?!=)|\b(?:def|class)\s+(_\w+)|^\s*(_\w+)\s*[:=](?!=)", re.M
    )
    names: set[str] = set()
    for path in source_files():
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.update(group for group in match.groups() if group)
    return frozenset(name for name in names if is_private(name))


def source_files() -> list[Path]:
    """Every Python file of ``rlx_tui/`` and ``tests/``."""
    return sorted(p for tree in TREES for p in (ROOT / tree).rglob("*.py") if "__snapshots__" not in p.parts)


def import_module_of(path: Path) -> ModuleType | None:
    """The imported module of one of our files (rule 2 needs its classes' MROs), or None."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts
    name = parts[-1] if parts[0] == "tests" else ".".join(p for p in parts if p != "__init__")
    if parts[0] == "tests" and str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        return importlib.import_module(name)
    except Exception:  # a module that cannot be imported here is still checked by rules 1 and 3
        return None


def textual_bases(module: ModuleType | None, classes: tuple[str, ...]) -> list[type] | None:
    """The Textual classes in the MRO of the class named ``classes`` (nested), or None if not found."""
    target: object = module
    for name in classes:
        target = getattr(target, name, None)
    if not isinstance(target, type):
        return None
    return [base for base in target.__mro__ if base.__module__.split(".")[0] == "textual"]


Access = tuple[ast.AST, ast.expr, str, tuple[str, ...]]


def accesses(tree: ast.AST) -> Iterator[Access]:
    """Every ``(node, owner expression, private name, enclosing classes)`` in ``tree``."""

    def walk(node: ast.AST, classes: tuple[str, ...]) -> Iterator[Access]:
        for child in ast.iter_child_nodes(node):
            inner = (*classes, child.name) if isinstance(child, ast.ClassDef) else classes
            if isinstance(child, ast.Attribute) and is_private(child.attr):
                yield child, child.value, child.attr, inner
            elif (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Name)
                and child.func.id in ATTRIBUTE_FUNCTIONS
                and len(child.args) >= 2
                and isinstance(child.args[1], ast.Constant)
                and isinstance(child.args[1].value, str)
                and is_private(child.args[1].value)
            ):
                yield child, child.args[0], child.args[1].value, inner
            yield from walk(child, inner)

    yield from walk(tree, ())


def is_self(owner: ast.expr) -> bool:
    if isinstance(owner, ast.Name):
        return owner.id in ("self", "cls")
    return isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super"


def violations(path: Path, module: ModuleType | None) -> list[str]:
    """Every use of a private Textual member in one file, as ``path:line: expression (why)``."""
    relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    found = []
    for node, owner, name, classes in accesses(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{relative}:{getattr(node, 'lineno', 0)}: {ast.unparse(node)}"
        if name in ALWAYS_FORBIDDEN:
            found.append(f"{where} (a known Textual private)")
        elif is_self(owner):
            bases = textual_bases(module, classes) if classes else []
            if bases is None:  # a class we could not find at run time: be strict
                bases_use = name in textual_private_names()
                culprit = "Textual"
            else:
                users = [base for base in bases if name in textual_class_names(base)]
                bases_use, culprit = bool(users), ", ".join(base.__qualname__ for base in users)
            if bases_use:
                found.append(f"{where} (reads or shadows a private of {culprit})")
        elif (relative, ast.unparse(owner) + "." + name) in NOT_TEXTUAL:
            continue
        elif name not in our_private_names():
            found.append(f"{where} (not defined by our code: someone else's private)")
        elif name in textual_private_names():
            found.append(f"{where} (a name Textual uses privately)")
    return found


def test_no_private_textual_member_is_used() -> None:
    found = [v for path in source_files() for v in violations(path, import_module_of(path))]
    assert not found, "private Textual members used:\n" + "\n".join(found)


def test_the_check_catches_what_the_old_inventory_and_screen_helper_did(tmp_path: Path) -> None:
    """The rule is not vacuous: the old DataTable cache surgery and the compositor read are caught."""
    source = textwrap.dedent(
        """
        from textual.widgets import DataTable, Static


        class Table(DataTable):
            def update(self, row, column, value):
                self._data[row][column] = value
                self._row_locations.get(row)
                self._styles_cache.clear()


        class Label(Static):
            def __init__(self) -> None:
                super().__init__()
                self._size_hint = 3  # ours, and no Textual class of its MRO uses it


        def screen(app):
            return app.screen._compositor.render_strips(), getattr(app, "_driver"), app._exit_renderables
        """
    )
    module_path = tmp_path / "rlx_private_sample.py"
    module_path.write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("rlx_private_sample")
        found = violations(module_path, module)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("rlx_private_sample", None)
    flagged = {line.split(": ", 1)[1].split(" (")[0] for line in found}
    assert flagged == {
        "self._data",
        "self._row_locations",
        "self._styles_cache",
        "app.screen._compositor",
        "getattr(app, '_driver')",
        "app._exit_renderables",
    }, found
