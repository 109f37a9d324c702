"""The warehouse on real files: per-day Parquet behind the views of a real ``aco.duckdb``,
written and read by separate processes the way the pipeline and its users do."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from aco_assets.storage.warehouse import Warehouse, WarehouseBusyError, WarehouseSchemaError
from aco_assets.storage.warehouse_files import (
    FileLock,
    conform,
    ensure_table,
    partition_file,
    table_sql,
    write_atomic,
)
from aco_assets.storage.warehouse_schema import TABLES, VIEWS, Column, Table
from tests.warehouse_rows import windows

ROOT = Path(__file__).resolve().parents[3]
DAY1, DAY2 = dt.date(2016, 2, 14), dt.date(2016, 2, 15)

PRELUDE = """
import datetime as dt
import pyarrow as pa
from tests.warehouse_rows import windows
"""


def _python(script: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + script, *args], cwd=ROOT, text=True, **popen
    )


def _count(wh: Warehouse, day: dt.date) -> int:
    return wh.query("SELECT count(*) AS n FROM windows WHERE day = ?", [day])["n"][0].as_py()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "data" / "aco.duckdb", lock_timeout_s=5)
    wh.replace_rows("windows", windows(DAY1, 5), where="day = ?", params=[DAY1])
    return wh


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
for _ in range(2):
    rows = con.sql("SELECT day, count(*), max(file) FROM windows GROUP BY day ORDER BY day").fetchall()
    versions = con.sql("SELECT model_version FROM model_versions").fetchall()
    print(repr([(str(d), n, f) for d, n, f in rows] + versions), flush=True)
    sys.stdin.readline()
"""


def test_a_reader_holding_the_duckdb_file_neither_blocks_a_day_write_nor_sees_half_of_it(
    warehouse,
):
    reader = _python(READER, str(warehouse.path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert reader.stdout.readline().strip() == "[('2016-02-14', 5, 'a.HYD24BBpk')]"
        # the reader holds aco.duckdb open while both days are written (lock_timeout_s=5)
        warehouse.replace_rows("windows", windows(DAY1, 7, "b"), where="day = ?", params=[DAY1])
        warehouse.replace_rows("windows", windows(DAY2, 3), where="day = ?", params=[DAY2])
        with warehouse.transaction() as con:  # a table's first rows, while the reader holds on
            con.execute("INSERT INTO model_versions (model_version) VALUES (1)")
        reader.stdin.write("\n")
        reader.stdin.flush()
        seen = reader.stdout.readline().strip()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert seen == "[('2016-02-14', 7, 'b'), ('2016-02-15', 3, 'a.HYD24BBpk'), (1,)]"


def test_rewriting_a_day_replaces_its_rows_exactly_once(warehouse):
    for n in (9, 4, 4):
        warehouse.replace_rows("windows", windows(DAY1, n), where="day = ?", params=[DAY1])
    assert _count(warehouse, DAY1) == 4
    warehouse.replace_rows("windows", windows(DAY1, 0), where="day = ?", params=[DAY1])
    assert _count(warehouse, DAY1) == 0
    assert not list((warehouse.tables_dir / "windows").glob(".*.tmp"))


def test_a_failing_write_of_several_tables_changes_none_of_them(warehouse):
    bad = pa.table({"day": [DAY1], "found": ["not a number"]})
    with pytest.raises(WarehouseSchemaError, match=r"coverage\.found: string does not cast"):
        warehouse.replace_many(
            [
                ("windows", windows(DAY1, 1), "day = ?", [DAY1]),
                ("coverage", bad, "day = ?", [DAY1]),
            ]
        )
    assert _count(warehouse, DAY1) == 5
    assert not list((warehouse.tables_dir / "windows").glob(".*.tmp"))


@pytest.mark.parametrize(
    "rows, where, message",
    [
        # a column the schema does not declare
        (pa.table({"day": [DAY1], "no_such_column": [1]}), "day = ?", "no column 'no_such_column'"),
        # a NULL in a NOT NULL column
        (pa.table({"day": [DAY1], "window_index": [None]}), "day = ?", "window_index is NOT NULL"),
        # a row of another day than the partition
        (windows(DAY2, 1), "day = ?", "rows of other days than 2016-02-14"),
        # a per-day table is replaced a day at a time
        (windows(DAY1, 1), "file = ?", "replaced a day at a time"),
    ],
)
def test_rows_that_do_not_fit_the_declared_schema_are_refused(warehouse, rows, where, message):
    with pytest.raises(WarehouseSchemaError, match=message):
        warehouse.replace_rows("windows", rows, where=where, params=[DAY1])
    assert _count(warehouse, DAY1) == 5


KILLED = """
import os, signal, sys
import aco_assets.storage.warehouse as w
w.commit_temp = lambda tmp, path: os.kill(os.getpid(), signal.SIGKILL)  # die before the rename
day = dt.date.fromisoformat(sys.argv[2])
w.Warehouse(sys.argv[1]).replace_rows("windows", windows(day, 8), where="day = ?", params=[day])
"""


def test_a_writer_killed_between_write_and_rename_leaves_the_previous_rows(warehouse):
    child = _python(KILLED, str(warehouse.path), DAY1.isoformat())
    assert child.wait(timeout=60) == -signal.SIGKILL
    (left,) = (warehouse.tables_dir / "windows").glob(".*.tmp")  # its complete temporary file
    assert _count(warehouse, DAY1) == 5
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM windows").fetchall() == [(5,)]
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    warehouse.replace_rows("windows", windows(DAY1, 6), where="day = ?", params=[DAY1])
    assert _count(warehouse, DAY1) == 6
    assert not left.exists()  # the next write of the day removed the stale file


WRITER = """
import sys, time
from pathlib import Path
from aco_assets.storage.warehouse import Warehouse
day, go = dt.date.fromisoformat(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.01)
wh = Warehouse(sys.argv[1], lock_timeout_s=60)
for n in range(1, 9):
    wh.replace_many([
        ("windows", windows(day, 100 + n), "day = ?", [day]),
        ("coverage", pa.table({"day": [day], "found": [n]}), "day = ?", [day]),
    ])
"""


def test_two_processes_writing_two_days_at_once_into_a_new_warehouse_both_complete(tmp_path):
    path, go = tmp_path / "data" / "aco.duckdb", tmp_path / "go"
    children = [_python(WRITER, str(path), day.isoformat(), str(go)) for day in (DAY1, DAY2)]
    go.touch()
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    wh = Warehouse(path)
    assert _count(wh, DAY1) == _count(wh, DAY2) == 108
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.sql("SELECT day, found FROM coverage ORDER BY day").fetchall() == [
            (DAY1, 8),
            (DAY2, 8),
        ]


def test_every_table_view_and_column_of_aco_duckdb_has_a_comment(warehouse):
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        views = dict(
            con.sql("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
        )
        columns = con.sql(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
    assert set(views) == {t.name for t in TABLES} | {v.name for v in VIEWS}
    assert all(views.values())
    assert len(columns) == sum(len(t.columns) for t in TABLES) + sum(
        len(v.column_comments) for v in VIEWS
    )
    assert [(t, c) for t, c, comment in columns if not comment] == []


def test_an_empty_day_has_decodable_share_zero_not_null(warehouse):
    warehouse.replace_rows(
        "coverage",
        pa.table({"day": [DAY2], "found": [0], "decodable_share": pa.array([None], pa.float64())}),
        where="day = ?",
        params=[DAY2],
    )
    assert warehouse.query("SELECT decodable_share FROM daily_summary").to_pylist() == [
        {"decodable_share": 0.0}
    ]


def test_the_whole_tables_change_in_a_transaction_and_nothing_on_error(warehouse):
    with warehouse.transaction() as con:
        con.execute("INSERT INTO model_versions (model_version, is_champion) VALUES (1, true)")
    with pytest.raises(RuntimeError, match="stop"), warehouse.transaction() as con:
        con.execute("UPDATE model_versions SET is_champion = false")
        raise RuntimeError("stop")
    rows = warehouse.query("SELECT model_version, is_champion FROM model_versions").to_pylist()
    assert rows == [{"model_version": 1, "is_champion": True}]
    metric = {"model_version": 1, "method": "np", "metric": "auc", "subset": "all", "value": 0.5}
    for value in (0.5, 0.7):
        table = pa.Table.from_pylist([{**metric, "value": value}])
        warehouse.replace_rows("evaluation_metrics", table, where="model_version = ?", params=[1])
    assert warehouse.query("SELECT value FROM evaluation_metrics")["value"].to_pylist() == [0.7]


HOLDER = """
import sys
from pathlib import Path
from aco_assets.storage.warehouse_files import (
    FileLock,
    conform,
    ensure_table,
    partition_file,
    table_sql,
    write_atomic,
)
with FileLock(Path(sys.argv[1]), exclusive=True, timeout_s=5):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_writer_waiting_for_another_writer_names_it(warehouse):
    holder = _python(
        HOLDER, str(warehouse.tables_dir / ".lock"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = Warehouse(warehouse.path, lock_timeout_s=0.3)
        with pytest.raises(WarehouseBusyError, match=rf"locked by PID {holder.pid} \(.*python"):
            with busy.transaction():
                pass
        # per-day writes do not take that lock
        busy.replace_rows("windows", windows(DAY2, 2), where="day = ?", params=[DAY2])
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with FileLock(warehouse.tables_dir / ".lock", exclusive=True, timeout_s=5):
        pass


def test_a_moved_data_folder_keeps_working_even_with_a_reader_on_the_new_place(warehouse, caplog):
    moved = warehouse.path.parent.parent / "moved"
    shutil.move(warehouse.path.parent, moved)
    wh = Warehouse(moved / "aco.duckdb")
    with duckdb.connect(str(wh.path), read_only=True):  # its views still name the old place
        wh.replace_rows("windows", windows(DAY2, 2), where="day = ?", params=[DAY2])
        assert f"held open by PID {os.getpid()} (this process)" in caplog.text
        assert _count(wh, DAY1) == 5 and _count(wh, DAY2) == 2  # reads go to the files
    wh.replace_rows("windows", windows(DAY2, 3), where="day = ?", params=[DAY2])
    with duckdb.connect(str(wh.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM windows").fetchall() == [(8,)]


def test_a_snapshot_is_a_standalone_copy_with_comments(warehouse, tmp_path):
    target = warehouse.snapshot(tmp_path / "snap.duckdb")
    warehouse.replace_rows("windows", windows(DAY1, 1), where="day = ?", params=[DAY1])
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM windows").fetchall() == [(5,)]
        kinds = dict(con.sql("SELECT table_name, comment FROM duckdb_tables()").fetchall())
        assert set(kinds) == {t.name for t in TABLES} and all(kinds.values())
        assert con.execute("SELECT count(*) FROM daily_summary").fetchall() == [(0,)]


def test_a_warehouse_of_the_older_single_file_layout_is_moved_into_files(tmp_path):
    path = tmp_path / "aco.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE windows (day DATE, window_index INTEGER, window_start TIMESTAMP, "
            "window_end TIMESTAMP, file VARCHAR, offset_s DOUBLE, valid BOOLEAN)"
        )
        con.register("rows", pa.concat_tables([windows(DAY1, 4), windows(DAY2, 2)]))
        con.execute("INSERT INTO windows SELECT * FROM rows")
        con.execute("CREATE TABLE reviews (detection_id VARCHAR, verdict VARCHAR)")
        con.execute("INSERT INTO reviews VALUES ('20160214-0001', 'false_alarm')")
    wh = Warehouse(path)
    wh.replace_rows("windows", windows(DAY2, 1), where="day = ?", params=[DAY2])
    assert (_count(wh, DAY1), _count(wh, DAY2)) == (4, 1)
    assert wh.query("SELECT verdict FROM reviews")["verdict"].to_pylist() == ["false_alarm"]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM windows").fetchall() == [(5,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]


def test_a_newly_declared_column_reaches_the_files_written_before(tmp_path):
    day_col = Column("day", "DATE", "UTC day", not_null=True)
    before = Table("scores", "t", (day_col, Column("score", "DOUBLE", "s")), "day")
    after = Table(
        "scores", "t", (*before.columns, Column("score_1s", "DOUBLE", "new", not_null=True)), "day"
    )
    ensure_table(tmp_path, before, timeout_s=5)
    for day, score in ((DAY1, 1.0), (DAY2, 2.0)):
        rows = conform(before, pa.table({"score": [score]}), day=day)
        write_atomic(partition_file(tmp_path, before, day), rows)
    ensure_table(tmp_path, after, timeout_s=5)
    rows = conform(after, pa.table({"score": [3.0], "score_1s": [0.5]}), day=DAY2)
    write_atomic(partition_file(tmp_path, after, DAY2), rows)
    got = duckdb.sql(f"SELECT * FROM ({table_sql(tmp_path, after)}) ORDER BY day").fetchall()
    assert got == [(DAY1, 1.0, None), (DAY2, 3.0, 0.5)]
