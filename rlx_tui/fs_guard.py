"""Filesystem operations that never follow a symbolic link out of the data directory.

Everything under the data directory is reached one component at a time from
a descriptor of the data directory itself, each component opened with
``O_NOFOLLOW`` (``openat``-style, through ``dir_fd``), so a link planted
anywhere (``staging/tmp -> /home``, a zone, a partition directory, a file) is
refused instead of followed, and there is no window between a check and the
operation. Deletion goes through ``shutil.rmtree(dir_fd=...)``, which never
descends into links either.

Untrusted files given by path (``--env-file``, ``--signing-key``, a
certificate) are read with :func:`read_regular`: a FIFO, a device, a directory
or a file larger than the stated cap is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class UnsafePathError(OSError):
    """A symbolic link or a non-directory where rlx-tui expected its own directory; one line."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ELOOP, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FileRefused(ValueError):
    """An input file that is not a regular file, or is larger than its cap; one line."""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_fd(fd: int, limit: int, what: str, size_hint: int) -> bytes:
    if size_hint > limit:
        raise FileRefused(f"{what} is {size_hint:,} bytes, more than the {limit:,} allowed")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FileRefused(f"{what} is larger than the {limit:,} bytes allowed")
    return b"".join(chunks)


def read_regular(path: Path, limit: int, what: str, *, follow: bool = True) -> tuple[bytes, os.stat_result]:
    """The bytes of ``path`` and its stat, if it is a regular file of at most ``limit`` bytes.

    Opening never blocks (``O_NONBLOCK``: a FIFO cannot hang us) and the type
    is checked on the open descriptor. ``follow=False`` refuses a link too.
    FileNotFoundError and PermissionError pass through; the rest is FileRefused.
    """
    flags = _READ_FLAGS if not follow else _READ_FLAGS & ~os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(f"{what} is a symbolic link: give the file itself") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            raise FileRefused(f"{what} is not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{what} is {_kind(info.st_mode)}, not a regular file")
        return _read_fd(fd, limit, what, info.st_size), info
    finally:
        os.close(fd)


# -- paths beneath a trusted base -------------------------------------------------------------
def relative_parts(base: Path, path: Path) -> tuple[str, ...]:
    """The components of ``path`` below ``base`` (lexically; both absolute). UnsafePathError if outside."""
    rel = os.path.relpath(os.path.normpath(path), os.path.normpath(base))
    parts = PurePosixPath(rel).parts
    if rel == "." or not parts:
        return ()
    if parts[0] == ".." or PurePosixPath(rel).is_absolute():
        raise UnsafePathError(f"{path} lies outside the data directory {base}")
    return parts


def _display(base: Path, parts: tuple[str, ...]) -> str:
    return str(base.joinpath(*parts)) if parts else str(base)


def _refusal(base: Path, parts: tuple[str, ...], parent_fd: int, name: str) -> UnsafePathError:
    try:
        mode = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    where = _display(base, parts)
    if stat.S_ISLNK(mode):
        return UnsafePathError(
            f"{where} is a symbolic link: rlx-tui never follows links inside the data directory; "
            "remove the link (what it points to is left alone)"
        )
    return UnsafePathError(f"{where} is {_kind(mode)} where rlx-tui keeps a directory: move it away")


def _open_base(base: Path) -> int:
    return os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _walk_dirs(base: Path, parts: tuple[str, ...], create: bool, mode: int = 0o777) -> int:
    """A descriptor of ``base/parts...`` reached without following links (created if asked)."""
    fd = _open_base(base)
    try:
        for index, name in enumerate(parts):
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, mode, dir_fd=fd)
                try:
                    next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _refusal(base, parts[: index + 1], fd, name) from None
                    raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refusal(base, parts[: index + 1], fd, name) from None
                raise
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def dir_fd(base: Path, path: Path, *, create: bool = False, mode: int = 0o777) -> Iterator[int]:
    """A descriptor of directory ``path`` (beneath ``base``), reached without following any link."""
    fd = _walk_dirs(base, relative_parts(base, path), create, mode)
    try:
        yield fd
    finally:
        os.close(fd)


def ensure_dir(base: Path, path: Path, mode: int = 0o777) -> Path:
    """Create ``path`` and its parents beneath ``base`` (none may be a link); return ``path``."""
    with dir_fd(base, path, create=True, mode=mode):
        return path


def check_dir(base: Path, path: Path) -> bool:
    """True if ``path`` is a real directory beneath ``base``, False if missing; UnsafePathError if a link."""
    try:
        with dir_fd(base, path):
            return True
    except FileNotFoundError:
        return False


def check_not_link(base: Path, path: Path) -> None:
    """UnsafePathError if the file ``path`` (its parents real directories) is a symbolic link."""
    parts = relative_parts(base, path)
    if not parts:
        return
    try:
        with dir_fd(base, path.parent) as parent:
            mode = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise UnsafePathError(
            f"{path} is a symbolic link: rlx-tui never follows links inside the data directory; "
            "remove the link (what it points to is left alone)"
        )


def open_file(base: Path, path: Path, flags: int, mode: int = 0o600, *, create_parents: bool = False) -> int:
    """``os.open`` of ``path`` beneath ``base`` with ``O_NOFOLLOW`` on every component."""
    parts = relative_parts(base, path)
    if not parts:
        raise UnsafePathError(f"{path} is the data directory itself, not a file in it")
    with dir_fd(base, path.parent, create=create_parents) as parent:
        try:
            return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refusal(base, parts, parent, parts[-1]) from None
            raise


def read_file(base: Path, path: Path, limit: int, what: str | None = None) -> bytes:
    """The bytes of the regular file ``path`` beneath ``base`` (no link followed, at most ``limit``)."""
    return read_file_stat(base, path, limit, what)[0]


def read_file_stat(
    base: Path, path: Path, limit: int, what: str | None = None
) -> tuple[bytes, os.stat_result]:
    """Like :func:`read_file`, with the stat of the descriptor that was read."""
    label = what or str(path)
    try:
        fd = open_file(base, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise FileRefused(f"{label} is not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{label} is {_kind(info.st_mode)}, not a regular file")
        return _read_fd(fd, limit, label, info.st_size), info
    finally:
        os.close(fd)


def sha256_file(base: Path, path: Path) -> tuple[str, int]:
    """sha256 (hex) and size of the regular file ``path`` beneath ``base``, no link followed."""
    fd = open_file(base, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path} is {_kind(info.st_mode)}, not a regular file")
        digest = hashlib.sha256()
        size = 0
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size
    finally:
        os.close(fd)


def lstat(base: Path, path: Path) -> os.stat_result | None:
    """``lstat`` of ``path`` beneath ``base`` (parents reached without links), None when missing."""
    parts = relative_parts(base, path)
    try:
        with dir_fd(base, path.parent if parts else path) as parent:
            if not parts:
                return os.fstat(parent)
            return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove(base: Path, path: Path) -> bool:
    """Delete the file, link or directory tree ``path`` beneath ``base``; never through a link.

    A link is removed itself, never what it points to. Returns False when
    nothing was there.
    """
    parts = relative_parts(base, path)
    if not parts:
        raise UnsafePathError(f"refusing to delete the data directory {base} itself")
    try:
        with dir_fd(base, path.parent) as parent:
            name = parts[-1]
            try:
                mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
            except FileNotFoundError:
                return False
            if stat.S_ISDIR(mode):
                shutil.rmtree(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
            return True
    except FileNotFoundError:
        return False


def rename(base: Path, source: Path, target: Path) -> None:
    """``os.rename(source, target)``, both beneath ``base``, no link followed on the way to either."""
    src_parts, dst_parts = relative_parts(base, source), relative_parts(base, target)
    if not src_parts or not dst_parts:
        raise UnsafePathError("refusing to rename the data directory itself")
    with dir_fd(base, source.parent) as src_dir, dir_fd(base, target.parent) as dst_dir:
        os.rename(src_parts[-1], dst_parts[-1], src_dir_fd=src_dir, dst_dir_fd=dst_dir)


def list_dir(base: Path, path: Path) -> list[tuple[str, int]]:
    """(name, lstat mode) of every entry of directory ``path`` beneath ``base``; [] when missing."""
    try:
        with dir_fd(base, path) as fd:
            entries = []
            for name in os.listdir(fd):
                try:
                    entries.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode))
                except FileNotFoundError:
                    continue
            return sorted(entries)
    except FileNotFoundError:
        return []


def walk(
    base: Path, path: Path
) -> Iterator[tuple[PurePosixPath, list[str], list[tuple[str, os.stat_result]]]]:
    """Walk ``path`` beneath ``base`` without following links (``os.fwalk``).

    Yields (directory relative to ``path``, sub-directory names, [(file name, its lstat)]).
    Links, whether to files or directories, are listed among the files (with
    their link mode) and never entered. Nothing is yielded when ``path`` is missing.
    """
    try:
        top = _walk_dirs(base, relative_parts(base, path), create=False)
    except FileNotFoundError:
        return
    try:
        for dirpath, dirnames, filenames, fd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            files: list[tuple[str, os.stat_result]] = []
            for name in list(dirnames):
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    dirnames.remove(name)
                    continue
                if stat.S_ISLNK(info.st_mode):
                    dirnames.remove(name)
                    files.append((name, info))
            for name in filenames:
                try:
                    files.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
                except FileNotFoundError:
                    continue
            dirnames.sort()
            yield PurePosixPath(dirpath), dirnames, sorted(files)
    finally:
        os.close(top)


def is_link(info: int | os.stat_result) -> bool:
    """True for a symbolic link (an lstat result or its mode)."""
    return stat.S_ISLNK(info if isinstance(info, int) else info.st_mode)


def is_regular(info: int | os.stat_result) -> bool:
    """True for a regular file (an lstat result or its mode)."""
    return stat.S_ISREG(info if isinstance(info, int) else info.st_mode)
