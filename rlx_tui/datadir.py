"""The data directory as a boundary: which paths may be one, and what may live inside it.

:func:`resolve_data_dir` turns a setting into an absolute path or refuses it
(empty, the filesystem root, ``~nosuchuser``, a symlink loop, a NUL byte).
:func:`check_layout` refuses a data directory whose own sub-directories or
fixed files (zones, tmp, logs, keys, certificates, caches, locks) are symbolic
links or of the wrong type, before anything is read or written there.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from rlx_tui.fs_guard import UnsafePathError, check_dir, check_not_link
from rlx_tui.safety import UnsafeText, check_text, shown

# Directories rlx-tui (or lakeapi, in .lake_cache) creates and later writes or deletes in.
LAYOUT_DIRS: tuple[str, ...] = (
    "staging",
    "staging/tmp",
    "staging/raw",
    "staging/validating",
    "staging/ready",
    "staging/quarantine",
    "logs",
    "keys",
    "certificates",
    "runs",
    ".lake_cache",
    ".lake_cache/boto",
    ".lake_cache/contents",
    ".lake_cache/login",
    ".lake_cache/data",
    ".lake_cache/joblib",
    ".lake_cache/used_data",
    ".lake_cache/rlx",
    "demo-lake",
)
# Files with fixed names that rlx-tui opens for writing (or trusts when reading).
LAYOUT_FILES: tuple[str, ...] = (
    "staging/.lock",
    "staging/ready/manifest-sha256.txt",
    "logs/rlx-tui.log",
    "keys/certificate-ed25519.pem",
    "keys/trusted-signers.txt",
    "certificates/.lock",
)


# Never a data directory: the system's own (and anything under the pseudo filesystems).
SYSTEM_DIRS: frozenset[Path] = frozenset(
    Path(p)
    for p in (
        *("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/opt", "/proc", "/run", "/sbin", "/srv"),
        *("/sys", "/usr", "/var", "/home", "/root", "/tmp", "/mnt", "/media"),
    )
)
PSEUDO_FILESYSTEMS: tuple[Path, ...] = (Path("/proc"), Path("/sys"), Path("/dev"))


class DataDirError(ValueError):
    """The data directory setting cannot be used; one line with the next step."""


def resolve_data_dir(value: str | os.PathLike[str]) -> Path:
    """An absolute, resolved data directory, or DataDirError (never a traceback)."""
    text = os.fspath(value)
    if not text.strip():
        raise DataDirError("data directory is empty: give a path, e.g. --data-dir ./data")
    try:
        check_text("data directory", text)
    except UnsafeText as exc:
        raise DataDirError(str(exc)) from None
    if text.startswith("~") and not (text == "~" or text.startswith("~/")):
        raise DataDirError(
            f"data directory {shown(text)} names another user's home (~user): give a plain path"
        )
    try:
        path = Path(text).expanduser().resolve()
    except RuntimeError as exc:  # ~nosuchuser, a symlink loop (Python 3.11 raises RuntimeError)
        reason = "a symbolic link loop" if "loop" in str(exc).lower() else "a home directory that is unknown"
        raise DataDirError(f"data directory {shown(text)} names {reason}: give a plain path") from None
    except (OSError, ValueError) as exc:
        raise DataDirError(
            f"data directory {shown(text)} cannot be used ({exc}): give another path"
        ) from None
    if path == Path(path.anchor):
        raise DataDirError(
            f"data directory {shown(text)} is the filesystem root: give a directory of its own, e.g. ./data"
        )
    if path in SYSTEM_DIRS or any(root in path.parents for root in PSEUDO_FILESYSTEMS):
        raise DataDirError(f"data directory {path} is a system directory: give one of its own, e.g. ./data")
    with contextlib.suppress(RuntimeError, KeyError):
        if path == Path.home().resolve():
            raise DataDirError(
                f"data directory {path} is your home directory itself: give one of its own, e.g. ~/rlx-data"
            )
    return path


def check_usable(path: Path, *, create: bool = True) -> None:
    """Create ``path`` if asked; refuse a non-directory, an unusable directory, or one anyone can write."""
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        info = path.stat()
    except FileNotFoundError:
        raise DataDirError(
            f"data directory {path} does not exist: give the certificate's data directory"
        ) from None
    except OSError as exc:
        raise DataDirError(
            f"data directory {path} cannot be created ({exc.strerror or exc}): choose another --data-dir"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataDirError(f"data directory {path} is not a directory: choose another --data-dir")
    if info.st_mode & stat.S_IWOTH:
        raise DataDirError(
            f"data directory {path} is writable by every user (like /tmp): anyone could plant links in it; "
            "choose a private directory, e.g. ./data"
        )
    if create and not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise DataDirError(f"data directory {path} is not readable and writable: fix its permissions")


def check_layout(data_dir: Path) -> None:
    """UnsafePathError (one line) if a layout directory or fixed file of ``data_dir`` is a link."""
    for rel in LAYOUT_DIRS:
        check_dir(data_dir, data_dir / rel)
    for rel in LAYOUT_FILES:
        path = data_dir / rel
        try:
            check_not_link(data_dir, path)
        except FileNotFoundError:
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"{path} is not a regular file where rlx-tui keeps one: move it away")


__all__ = [
    "LAYOUT_DIRS",
    "LAYOUT_FILES",
    "DataDirError",
    "UnsafePathError",
    "check_layout",
    "check_usable",
    "resolve_data_dir",
]
