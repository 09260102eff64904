"""The demo lake's seed cache: reused only when verified, refused and regenerated otherwise,
kept inside the data directory without following links, always labelled SYNTHETIC."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from rlx_tui.fs_guard import UnsafePathError
from rlx_tui.sources.demo.faults import DemoFaults
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
from rlx_tui.sources.demo.objects import sample_key
from rlx_tui.sources.demo.seed_cache import (
    CACHE_DIR,
    INDEX_FILE,
    OBJECTS_FILE,
    SeedCache,
    SeedRefused,
    seed_digest,
    seed_identity,
)

CONFIG = DemoLakeConfig(profile="clean", days=2, tables=("trades",), symbols=("BTC-USDT",))
PID = "trades/BINANCE/BTC-USDT/2024-01-02"
PUTS = [("qnt.data", "a/1.parquet", b"first object"), ("qnt.data", "a/2.parquet", b"second"), ("s", "x", b"")]
KEYS = {(bucket, key) for bucket, key, _ in PUTS}


def digest_of(config: DemoLakeConfig) -> str:
    return seed_digest(seed_identity(config))


def seed_folder(data_dir: Path, config: DemoLakeConfig = CONFIG) -> Path:
    return data_dir / CACHE_DIR / digest_of(config)


def served(lake: DemoLake) -> tuple[set[str], bytes, bytes]:
    """What a user of the lake sees: the keys listed, one object, and its copy in the sample bucket."""
    client = lake.session().client("s3", config=Config(retries={"total_max_attempts": 1}))
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="qnt.data").get("Contents", [])}
    payload = client.get_object(Bucket="qnt.data", Key=lake.object_key(PID))["Body"].read()
    sample = client.get_object(Bucket="sample.crypto.lake", Key=sample_key(PID))
    return keys, payload, sample["Body"].read()


def identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the seed of CONFIG, written by a real first start."""
    data_dir = tmp_path_factory.mktemp("seeded")
    with DemoLake(CONFIG, seed_dir=data_dir) as lake:
        keys, payload, sample = served(lake)
    assert payload == sample == lake.expected_object_bytes(PID)
    assert len(keys) == 2 * 1 * 1 + 1  # two days of one stream and the table's index
    return data_dir


@pytest.fixture
def data_dir(pristine: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "data"
    shutil.copytree(pristine, copy, symlinks=True)
    yield copy


def test_the_first_start_keeps_a_labelled_seed_in_the_data_directory(data_dir: Path) -> None:
    assert os.listdir(data_dir) == [CACHE_DIR]  # nothing else is written
    assert os.listdir(data_dir / CACHE_DIR) == [digest_of(CONFIG)]
    index = json.loads((seed_folder(data_dir) / INDEX_FILE).read_bytes())
    assert index["synthetic"] is True and index["label"].startswith("SYNTHETIC")
    assert sorted(os.listdir(seed_folder(data_dir))) == [INDEX_FILE, OBJECTS_FILE]
    assert oct((data_dir / CACHE_DIR).stat().st_mode & 0o777) == oct(0o700)


def test_a_second_start_serves_the_seed_without_rewriting_it(data_dir: Path) -> None:
    objects = seed_folder(data_dir) / OBJECTS_FILE
    before = identity(objects)
    with DemoLake(CONFIG, seed_dir=data_dir) as lake:
        keys, payload, sample = served(lake)
        lake.set_faults(corrupt=[PID])  # faults still change what is at rest after a cached start
        corrupt = served(lake)[1]
    assert payload == sample == lake.expected_object_bytes(PID)
    assert corrupt == payload[: int(len(payload) * 0.6)]
    assert len(keys) == 3
    assert identity(objects) == before  # reused as it was: a refused seed would have been replaced
    assert os.listdir(data_dir / CACHE_DIR) == [digest_of(CONFIG)]


def test_a_tampered_seed_is_refused_and_regenerated(data_dir: Path) -> None:
    objects = seed_folder(data_dir) / OBJECTS_FILE
    intact = objects.read_bytes()
    tampered = bytearray(intact)
    tampered[len(tampered) // 2] ^= 0xFF  # same size, one byte changed
    objects.write_bytes(bytes(tampered))
    with DemoLake(CONFIG, seed_dir=data_dir) as lake:
        keys, payload, sample = served(lake)
    assert payload == sample == lake.expected_object_bytes(PID)  # generated again, never the tampered bytes
    assert len(keys) == 3
    assert objects.read_bytes() == intact  # and the seed written anew
    SeedCache(data_dir, digest_of(CONFIG)).load(_keys_of(data_dir))  # verified


def test_a_linked_seed_is_never_followed_and_what_it_points_to_is_left_alone(
    data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    folder = seed_folder(data_dir)
    shutil.copytree(folder, outside)
    before = {name: (outside / name).read_bytes() for name in os.listdir(outside)}
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    with DemoLake(CONFIG, seed_dir=data_dir) as lake:
        payload = served(lake)[1]
    assert payload == lake.expected_object_bytes(PID)
    assert {name: (outside / name).read_bytes() for name in os.listdir(outside)} == before
    assert not folder.is_symlink() and folder.is_dir()  # the link itself replaced by a real seed
    SeedCache(data_dir, digest_of(CONFIG)).load(_keys_of(data_dir))


def test_a_changed_configuration_gets_a_new_seed_and_the_old_one_goes(data_dir: Path) -> None:
    changed = DemoLakeConfig(profile="clean", days=3, tables=("trades",), symbols=("BTC-USDT",))
    assert digest_of(changed) != digest_of(CONFIG)
    with DemoLake(changed, seed_dir=data_dir) as lake:
        keys = served(lake)[0]
    assert len(keys) == 3 + 1
    assert os.listdir(data_dir / CACHE_DIR) == [digest_of(changed)]


def test_what_decides_the_stored_bytes_decides_the_digest() -> None:
    base = digest_of(CONFIG)
    same = [
        DemoLakeConfig(**{**_fields(CONFIG), "access_key": "other", "secret_key": "other-secret"}),
        DemoLakeConfig(**{**_fields(CONFIG), "faults": DemoFaults(transient_rate=0.5, slow_seconds=1.0)}),
    ]
    other = [
        DemoLakeConfig(**{**_fields(CONFIG), "seed": 8}),
        DemoLakeConfig(**{**_fields(CONFIG), "size": "small"}),
        DemoLakeConfig(**{**_fields(CONFIG), "sample_days": 1}),
        DemoLakeConfig(**{**_fields(CONFIG), "faults": DemoFaults(corrupt=(PID,))}),
    ]
    assert all(digest_of(config) == base for config in same)  # served, never stored
    assert len({digest_of(config) for config in other} | {base}) == len(other) + 1


@pytest.mark.parametrize(
    "damage",
    ["flipped byte", "truncated objects", "longer objects", "swapped lengths", "no label", "bad JSON"],
)
def test_damaged_seeds_are_refused(tmp_path: Path, damage: str) -> None:
    cache = SeedCache(tmp_path, "d" * 64)
    assert cache.save(PUTS)
    assert cache.load(KEYS) == PUTS
    objects, index_path = cache.folder / OBJECTS_FILE, cache.folder / INDEX_FILE
    index = json.loads(index_path.read_bytes())
    if damage == "flipped byte":
        data = bytearray(objects.read_bytes())
        data[3] ^= 1
        objects.write_bytes(bytes(data))
    elif damage == "truncated objects":
        objects.write_bytes(objects.read_bytes()[:-1])
    elif damage == "longer objects":
        objects.write_bytes(objects.read_bytes() + b"x")
    elif damage == "swapped lengths":  # same total, same bytes: each key would get the wrong bytes
        index["objects"][0][2], index["objects"][1][2] = index["objects"][1][2], index["objects"][0][2]
        index_path.write_text(json.dumps(index))
    elif damage == "no label":
        index.pop("label")
        index_path.write_text(json.dumps(index))
    else:
        index_path.write_text("{not json")
    with pytest.raises(SeedRefused):
        cache.load(KEYS)


def test_a_foreign_or_incomplete_seed_is_refused(tmp_path: Path) -> None:
    SeedCache(tmp_path, "a" * 64).save(PUTS)
    (tmp_path / CACHE_DIR / ("a" * 64)).rename(tmp_path / CACHE_DIR / ("b" * 64))
    with pytest.raises(SeedRefused, match="not the index of this seed"):
        SeedCache(tmp_path, "b" * 64).load(KEYS)  # another configuration's seed under this name
    cache = SeedCache(tmp_path, "c" * 64)
    cache.save(PUTS)
    with pytest.raises(SeedRefused, match="keys"):
        cache.load(KEYS | {("qnt.data", "a/3.parquet")})
    with pytest.raises(SeedRefused, match="no seed"):
        SeedCache(tmp_path, "e" * 64).load(KEYS)


def test_linked_files_and_a_linked_cache_directory_are_refused(tmp_path: Path) -> None:
    data_dir, outside = tmp_path / "data", tmp_path / "outside"
    data_dir.mkdir()
    cache = SeedCache(data_dir, "f" * 64)
    cache.save(PUTS)
    objects = cache.folder / OBJECTS_FILE
    shutil.move(objects, tmp_path / "real-objects")
    objects.symlink_to(tmp_path / "real-objects")
    with pytest.raises((SeedRefused, UnsafePathError)):
        cache.load(KEYS)
    shutil.move(data_dir / CACHE_DIR, outside)
    (data_dir / CACHE_DIR).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        cache.load(KEYS)
    with pytest.raises(UnsafePathError):
        cache.save(PUTS)  # nothing is written through the link
    assert sorted(os.listdir(outside)) == ["f" * 64]
    assert sorted(os.listdir(outside / ("f" * 64))) == [INDEX_FILE, OBJECTS_FILE]


def test_saving_keeps_only_the_latest_seed(tmp_path: Path) -> None:
    SeedCache(tmp_path, "1" * 64).save(PUTS)
    SeedCache(tmp_path, "2" * 64).save(PUTS[:1])
    assert os.listdir(tmp_path / CACHE_DIR) == ["2" * 64]
    assert SeedCache(tmp_path, "2" * 64).load({PUTS[0][:2]}) == PUTS[:1]


def _fields(config: DemoLakeConfig) -> dict[str, Any]:
    return {
        "profile": config.profile,
        "days": config.days,
        "tables": config.tables,
        "symbols": config.symbols,
    }


def _keys_of(data_dir: Path) -> set[tuple[str, str]]:
    index = json.loads((seed_folder(data_dir) / INDEX_FILE).read_bytes())
    return {(bucket, key) for bucket, key, _ in index["objects"]}


def test_the_demo_source_restarts_from_its_seed_and_its_cached_listing(
    tmp_path: Path, lakeapi_home: Path
) -> None:
    from rlx_tui.service import open_workspace
    from rlx_tui.settings import load_settings

    values = {"source": "demo", "data_dir": tmp_path / "data", "demo_profile": "clean", "demo_days": 2}
    settings = load_settings(env_file=None, overrides=values, environ={})
    seen = []
    for _ in range(2):  # two starts of the demo source, as two dashboard sessions would make
        with open_workspace(settings) as ws:
            found = ws.discover()
            seen.append((found, ws.source.lister.requests, ws.source.info.synthetic))  # type: ignore[attr-defined]
        if len(seen) == 1:
            (folder,) = (tmp_path / "data" / CACHE_DIR).iterdir()
            objects = identity(folder / OBJECTS_FILE)
    (first, first_requests, synthetic), (second, second_requests, still_synthetic) = seen
    assert first == second and first.first_day is not None
    assert first_requests > 0 and second_requests == 0  # listed from the cache although the port changed
    assert synthetic and still_synthetic  # whatever the cache, the demo source says it is synthetic
    assert identity(folder / OBJECTS_FILE) == objects  # the seed was reused, not written again
