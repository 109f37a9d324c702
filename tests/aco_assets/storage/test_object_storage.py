"""The archive read from, and derived data written to, S3 (a moto server: the real protocol).

Every check compares with the same work on a local copy: the same files under the same relative
names, the same rows, the same arrays.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from tests.s3_server import make_bucket, s3_environment

BUCKET = "aco-test"
DAY = dt.date(2016, 11, 30)  # the last day of a month: the listing also looks for odd folders


@pytest.fixture(scope="module")
def s3():
    with s3_environment() as endpoint:
        make_bucket(BUCKET)
        yield endpoint


@pytest.fixture(scope="module")
def archives(s3, tmp_path_factory):
    """(local root, S3 root) of one synthetic day, with faulty files and a misfiled entry."""
    from upath import UPath

    from aco_assets.synth import write_archive

    local = tmp_path_factory.mktemp("local") / "archive"
    write_archive(local, preset="test", days=1, files_per_day=3, faults=True, seed=0)
    folder = local / f"{DAY:%Y/%m/%d}"
    shutil.copy(sorted(folder.glob("*.HYD24BBpk"))[0], folder / "spare copy.HYD24BBpk")
    remote = UPath(f"s3://{BUCKET}/archive")
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        (remote / path.relative_to(local).as_posix()).write_bytes(path.read_bytes())
    return local, remote


def _names(archive, files) -> list[str]:
    from aco_assets.storage.paths import relative_posix

    return [relative_posix(f.path, archive.root) for f in files]


def test_an_archive_on_s3_lists_the_local_files_under_the_same_relative_names(archives):
    from aco_assets.hydrophone import Archive

    local, remote = Archive(archives[0]), Archive(f"s3://{BUCKET}/archive")
    assert remote.days() == local.days() == [DAY]
    assert _names(remote, remote.day_files(DAY)) == _names(local, local.day_files(DAY))
    assert len(remote.day_files(DAY)) >= 2
    assert _names(remote, remote.misfiled(DAY)) == [f"{DAY:%Y/%m/%d}/spare copy.HYD24BBpk"]
    assert [m.reason for m in remote.misfiled(DAY)] == [m.reason for m in local.misfiled(DAY)]
    assert remote.coverage_report() == local.coverage_report()


def test_files_and_clips_read_from_s3_equal_the_local_ones(archives):
    from aco_assets.hydrophone import Archive, read_file

    local, remote = Archive(archives[0]), Archive(archives[1])
    for a, b in zip(local.day_files(DAY), remote.day_files(DAY), strict=True):
        x, y = read_file(a.path, on_fault="skip"), read_file(str(b.path), on_fault="skip")
        np.testing.assert_array_equal(x.samples, y.samples)
        np.testing.assert_array_equal(x.valid, y.valid)
        assert [f.kind for f in x.faults] == [f.kind for f in y.faults]
        assert (y.nominal_start_utc, y.path) == (x.nominal_start_utc, b.path)
    start = local.day_files(DAY)[0].nominal_start_utc + dt.timedelta(seconds=290)
    np.testing.assert_array_equal(
        remote.load(start, 20.0, on_fault="skip").samples,
        local.load(start, 20.0, on_fault="skip").samples,
    )


def test_inventory_and_windows_rows_from_s3_equal_the_local_ones(archives):
    from aco_assets.hydrophone import Archive
    from aco_assets.signal.features import FrontEndConfig
    from aco_assets.signal.processing import file_windows, inventory_file, misfiled_windows

    local, remote = Archive(archives[0]), Archive(archives[1])
    pairs = list(zip(local.day_files(DAY), remote.day_files(DAY), strict=True))
    for a, b in pairs:
        assert inventory_file(b.path, remote.root) == inventory_file(a.path, local.root)
    a, b = pairs[-1]
    x = file_windows(a.path, local.root, FrontEndConfig())
    y = file_windows(b.path, remote.root, FrontEndConfig())
    assert (y.file, y.rows, y.issues, y.error) == (x.file, x.rows, x.issues, x.error)
    np.testing.assert_array_equal(y.features, x.features)
    (m,) = remote.misfiled(DAY)
    assert (
        misfiled_windows(m, remote.root, (1, 2)).issues
        == misfiled_windows(local.misfiled(DAY)[0], local.root, (1, 2)).issues
    )


def _windows(day: dt.date, n: int) -> pa.Table:
    start = dt.datetime.combine(day, dt.time())
    return pa.table(
        {
            "window_index": list(range(n)),
            "file": ["a.HYD24BBpk"] * n,
            "offset_s": [5.0 * i for i in range(n)],
            "window_start": [start + dt.timedelta(seconds=5 * i) for i in range(n)],
            "window_end": [start + dt.timedelta(seconds=5 * i + 5) for i in range(n)],
            "valid": [True] * n,
            "missing_share": [0.0] * n,
        }
    )


def test_warehouse_days_written_to_s3_are_queried_through_the_views_and_replaced(s3, tmp_path):
    from upath import UPath

    from aco_assets.storage.warehouse import Warehouse

    tables = UPath(f"s3://{BUCKET}/store-wh/tables")
    warehouse = Warehouse(tmp_path / "aco.duckdb", tables_dir=f"s3://{BUCKET}/store-wh/tables")
    day2 = DAY + dt.timedelta(days=1)
    warehouse.replace_rows("windows", _windows(DAY, 5), where="day = ?", params=[DAY])
    warehouse.replace_rows("windows", _windows(day2, 3), where="day = ?", params=[day2])
    warehouse.replace_rows("windows", _windows(DAY, 2), where="day = ?", params=[DAY])  # rewrite
    sql = "SELECT day, count(*) AS n FROM windows GROUP BY day ORDER BY day"
    assert warehouse.query(sql).to_pylist() == [{"day": DAY, "n": 2}, {"day": day2, "n": 3}]
    names = sorted(p.name for p in (tables / "windows").iterdir())
    assert names == ["_schema.parquet", f"day={DAY}.parquet", f"day={day2}.parquet"]
    assert not list(tmp_path.glob("tables"))  # nothing of the tables is local
    # a whole table changes in a transaction, and a warehouse opened by path alone finds it all
    with warehouse.transaction() as con:
        con.execute("INSERT INTO reviews (detection_id, verdict) VALUES ('d7', 'true_positive')")
    again = Warehouse(tmp_path / "aco.duckdb")
    assert str(again.tables_dir) == str(tables)
    assert again.query("SELECT detection_id, verdict FROM reviews").to_pylist() == [
        {"detection_id": "d7", "verdict": "true_positive"}
    ]
    assert again.query("SELECT count(*) FROM windows").to_pylist() == [{"count_star()": 5}]
    assert "s3://" in "".join(warehouse.view_statements())
    # another process writes a day: the next query of this one sees it
    root = Path(__file__).parents[3]
    subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path / "aco.duckdb")], cwd=root, check=True
    )
    assert warehouse.query(sql).to_pylist()[-1] == {"day": dt.date(2016, 12, 2), "n": 4}


WRITER = """
import datetime as dt, sys
import pyarrow as pa
from aco_assets.storage.warehouse import Warehouse
day, t = dt.date(2016, 12, 2), dt.datetime(2016, 12, 2)
rows = pa.table({"window_index": range(4), "file": ["a"] * 4, "offset_s": [0.0] * 4,
                 "window_start": [t] * 4, "window_end": [t] * 4, "valid": [True] * 4})
Warehouse(sys.argv[1]).replace_rows("windows", rows, where="day = ?", params=[day])
"""


def test_a_feature_array_on_s3_round_trips_through_the_local_cache(s3, tmp_path):
    from upath import UPath

    from aco_assets.signal.features import FrontEndConfig
    from aco_assets.storage.feature_store import load_day_features, read_sidecar, save_day_features

    path = UPath(f"s3://{BUCKET}/store-f/features/2016/{DAY}.npy")
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4, 1, 3, 2)).astype(np.float32)
    save_day_features(path, first, FrontEndConfig())
    cache = tmp_path / "cache"
    got = load_day_features(path, expected_rows=4, cache_dir=cache)
    assert isinstance(got, np.memmap) and np.array_equal(got, first)
    assert read_sidecar(path)["n_windows"] == 4
    second = first[:3] + 1
    save_day_features(path, second, FrontEndConfig())  # a new version: fetched again
    assert np.array_equal(load_day_features(path, cache_dir=cache), second)
    assert len(list(cache.rglob("*.npy"))) == 1  # the old copy is gone
    with pytest.raises(ValueError, match="cache_dir"):
        load_day_features(path)
    with pytest.raises(FileNotFoundError, match=r"s3://.*2099"):
        load_day_features(path.with_name("2099-01-01.npy"), cache_dir=cache)


def _materialize_day(storage) -> None:
    from aco_assets.defs.ingest.day_ingest import ingest

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    with dg.instance_for_test() as instance:
        dg.materialize(
            [ingest],
            partition_key=DAY.isoformat(),
            resources={"storage": storage},
            instance=instance,
            run_config={"ops": {"ingest": {"config": {"workers": 1}}}},
        )


def test_raw_files_and_spectrograms_of_an_s3_archive_into_an_s3_store_equal_local_ones(
    archives, tmp_path
):
    from upath import UPath

    from aco_assets.defs.resources import StorageResource
    from aco_assets.storage.feature_store import load_day_features

    local = StorageResource(data_dir=str(tmp_path / "local"), archive_root=str(archives[0]))
    remote = StorageResource(
        data_dir=str(tmp_path / "remote"),
        archive_root=f"s3://{BUCKET}/archive",
        store_root=f"s3://{BUCKET}/store",
    )
    _materialize_day(local)
    _materialize_day(remote)
    for table in ("raw_files", "coverage", "windows", "quality_issues"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert remote.warehouse().query(sql) == local.warehouse().query(sql), table
    layout = remote.layout()
    np.testing.assert_array_equal(
        load_day_features(layout.features_path(DAY), cache_dir=layout.cache_dir),
        load_day_features(local.layout().features_path(DAY)),
    )
    store = UPath(f"s3://{BUCKET}/store")
    assert (store / f"features/2016/{DAY}.json").exists()
    assert (store / f"tables/raw_files/day={DAY}.parquet").exists()
    assert not [p for p in store.rglob("*") if p.name.endswith(".tmp")]
    assert not (tmp_path / "remote" / "features").exists()
    for sql in _readme_queries():  # every query of the README, unchanged, over the S3 views
        assert remote.warehouse().query(sql).num_rows >= 0, sql


def _readme_queries() -> list[str]:
    """The SQL of README.md: its ```sql block(s) and the inline catalogue query."""
    text = (Path(__file__).parents[3] / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    queries = [q.strip() for b in blocks for q in b.split(";") if q.strip()]
    queries += re.findall(r"`(SELECT [^`]+ FROM duckdb_columns\(\)[^`]*)`", text)
    assert len(queries) >= 7
    return queries


def test_a_published_review_folder_is_copied_to_s3_and_stale_clips_removed(s3, tmp_path):
    from upath import UPath

    from aco_assets.storage.review_store import upload_folder

    folder = tmp_path / "2016-11-30"
    folder.mkdir()
    for name in ("01.wav", "02.wav", "2016-11-30.selections.txt"):
        (folder / name).write_bytes(name.encode())
    remote = UPath(f"s3://{BUCKET}/store-r/review/2016-11-30")
    assert upload_folder(folder, remote) == 3
    (folder / "02.wav").unlink()
    (folder / "01.wav").write_bytes(b"new render")
    assert upload_folder(folder, remote) == 2
    assert sorted(p.name for p in remote.iterdir()) == ["01.wav", "2016-11-30.selections.txt"]
    assert (remote / "01.wav").read_bytes() == b"new render"


def test_the_catalog_of_an_s3_archive_is_read_by_python_and_by_local_warehouse_queries(
    archives, tmp_path
):
    from aco_assets.storage.layout import DataLayout
    from aco_assets.storage.warehouse import Warehouse
    from aco_assets.synth.catalog import read_catalog

    events = read_catalog(archives[1])
    assert events == read_catalog(archives[0]) and events.num_rows
    layout = DataLayout.resolve(data_dir=tmp_path, archive_root=f"s3://{BUCKET}/archive")
    warehouse = Warehouse.of(layout)  # tables local, archive on S3 (as typical_windows joins it)
    warehouse.replace_rows("windows", _windows(DAY, 1), where="day = ?", params=[DAY])
    url = str(layout.archive_root / "catalog.parquet")
    assert url.startswith("s3://")
    got = warehouse.query("SELECT count(*) AS n FROM read_parquet(?)", [url]).to_pylist()
    assert got == [{"n": events.num_rows}]


@pytest.mark.parametrize(
    "root",
    [
        f"s3://{BUCKET}/no-such-archive",  # an empty prefix of a bucket
        "s3://no-such-bucket-aco/archive",  # a bucket that does not exist
    ],
)
def test_an_archive_root_on_s3_that_does_not_exist_is_a_clear_error_naming_it(s3, root):
    from aco_assets.defs.resources import ArchiveNotFoundError, StorageResource

    with pytest.raises(ArchiveNotFoundError, match=root):
        StorageResource(archive_root=root).archive()
