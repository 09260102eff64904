"""Class 3: symbolic links in the data directory are refused or removed, never followed out of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlx_tui import datadir, fs_guard
from rlx_tui.fs_guard import UnsafePathError
from rlx_tui.staging import SIDECAR, StagingStore, Zone
from tests.functional.hostile.attack import Sandbox, expect

# The attacker's own list (what the tester tried), then every directory the product says it owns:
# an entry dropped from the product still fails here, a new one is attacked too.
TRIED_DIRS = [
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
]
LAYOUT_DIRS = sorted(set(TRIED_DIRS) | set(datadir.LAYOUT_DIRS))
FIXED_FILES = [
    "staging/.lock",
    "logs/rlx-tui.log",
    "keys/trusted-signers.txt",
    "keys/certificate-ed25519.pem",
    "certificates/.lock",
    "staging/ready/manifest-sha256.txt",
]


def test_the_product_guards_every_directory_the_tester_tried() -> None:
    assert set(TRIED_DIRS) <= set(datadir.LAYOUT_DIRS)
    assert set(FIXED_FILES) <= set(datadir.LAYOUT_FILES)


def replace_with_link(path: Path, target: Path) -> None:
    """``path`` (a directory or file of the data directory) becomes a link to ``target``."""
    if path.is_dir():
        if not target.exists():
            shutil.copytree(path, target)
        shutil.rmtree(path)
    elif path.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        path.unlink()
    else:
        target.write_text("a file outside the data directory\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@pytest.mark.parametrize("rel", LAYOUT_DIRS)
@pytest.mark.parametrize("command", ["validate", "status"])
def test_a_linked_layout_directory_is_refused_and_nothing_behind_it_is_touched(
    stocked: Sandbox, rel: str, command: str
) -> None:
    path = stocked.data / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.rmtree(path)
    path.symlink_to(stocked.victim)  # e.g. ln -s /some/dir data/staging/tmp
    # the example as a real process; the other places through main() (faster)
    runner = stocked.run if (rel, command) == ("staging/tmp", "validate") else stocked.call
    result = runner(command)  # both check that nothing outside the data directory changed
    expect(result, 2, says=[str(path), "symbolic link"])
    assert (stocked.victim / "precious.txt").read_text() == "must survive\n"


@pytest.mark.parametrize("rel", FIXED_FILES)
def test_a_linked_fixed_file_is_refused(stocked: Sandbox, rel: str) -> None:
    replace_with_link(stocked.data / rel, stocked.victim / "linked-file")
    before = (stocked.victim / "linked-file").read_bytes()
    expect(stocked.call("validate"), 2, says="symbolic link")
    assert (stocked.victim / "linked-file").read_bytes() == before


def test_a_dangling_lock_link_creates_nothing_outside(stocked: Sandbox) -> None:
    (stocked.data / "staging" / ".lock").unlink(missing_ok=True)
    (stocked.data / "staging" / ".lock").symlink_to(stocked.victim / "created-by-lock")
    expect(stocked.call("validate"), 2, says="symbolic link")
    assert not (stocked.victim / "created-by-lock").exists()


def test_recovery_removes_a_link_in_tmp_but_not_what_it_points_to(stocked: Sandbox) -> None:
    tmp = stocked.data / "staging" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "evil-dir").symlink_to(stocked.victim)
    (tmp / "evil-file").symlink_to(stocked.victim / "precious.txt")
    (tmp / "real-leftover").mkdir()
    (tmp / "real-leftover" / "part.parquet").write_bytes(b"partial")
    result = stocked.call("validate")
    expect(result, 0, lines=4, says="validated 3 partition(s): 3 ready, 0 quarantined")
    assert list(tmp.iterdir()) == []  # links and leftovers gone...
    assert (stocked.victim / "precious.txt").read_text() == "must survive\n"  # ...their targets intact
    assert (stocked.victim / "sub" / "more.txt").exists()


def test_a_linked_partition_directory_is_never_entered(stocked: Sandbox) -> None:
    """A partition directory in raw that links outside: validate neither moves nor deletes through it."""
    ready = StagingStore(stocked.data).ready_manifests()
    key = next(iter(ready))
    outside = stocked.victim / "partition"
    shutil.copytree(StagingStore(stocked.data).partition_dir(Zone.READY, key), outside)
    raw_dir = StagingStore(stocked.data).partition_dir(Zone.RAW, key)
    raw_dir.parent.mkdir(parents=True)
    raw_dir.symlink_to(outside)
    sidecar = json.loads((outside / SIDECAR).read_text())
    expect(stocked.call("validate"), 0, lines=4, says="3 ready")
    assert json.loads((outside / SIDECAR).read_text()) == sidecar
    assert sorted(p.name for p in outside.iterdir()) == ["_manifest.json", "part.parquet"]


def test_a_ready_file_replaced_by_a_link_is_quarantined_without_reading_it(stocked: Sandbox) -> None:
    store = StagingStore(stocked.data)
    key = sorted(store.ready_manifests())[0]
    data_file = store.data_path(Zone.READY, key)
    copy = stocked.victim / "copy.parquet"
    shutil.copyfile(data_file, copy)
    data_file.unlink()
    data_file.symlink_to(copy)
    result = stocked.call("validate")
    expect(result, 4, lines=4, says=["2 ready, 1 quarantined", "symbolic link"])
    assert copy.exists()


# -- the store's clean-up primitives, directly ------------------------------------------------------------
def test_store_clean_up_cannot_delete_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    store = StagingStore(tmp_path / "data")
    store.ensure_layout()
    shutil.rmtree(store.tmp_root)
    store.tmp_root.symlink_to(victim)
    with pytest.raises(UnsafePathError):
        store.recover()
    store.discard_attempt(store.tmp_root / "keep.txt")  # the engine's clean-up: logs, deletes nothing
    with pytest.raises(UnsafePathError):
        fs_guard.remove(store.data_dir, store.tmp_root / "keep.txt")
    assert (victim / "keep.txt").read_text() == "keep"
    with pytest.raises(UnsafePathError):
        store.discard_attempt(victim)  # not an attempt directory of this store
    assert fs_guard.remove(store.data_dir, store.tmp_root)  # the link itself may go
    assert (victim / "keep.txt").exists()


def test_log_writes_never_follow_a_link(tmp_path: Path) -> None:
    from rlx_tui.logs import setup_logging

    outside = tmp_path / "outside.log"
    (tmp_path / "data" / "logs").mkdir(parents=True)
    (tmp_path / "data" / "logs" / "rlx-tui.log").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        setup_logging(tmp_path / "data")
    assert not outside.exists()


def test_the_layout_check_runs_before_anything_is_written(stocked: Sandbox) -> None:
    """With a linked keys directory, nothing at all is written, not even the log line."""
    log = stocked.data / "logs" / "rlx-tui.log"
    size = log.stat().st_size if log.exists() else 0
    shutil.rmtree(stocked.data / "keys")
    (stocked.data / "keys").symlink_to(stocked.victim)
    expect(stocked.call("status"), 2)
    assert (log.stat().st_size if log.exists() else 0) == size
