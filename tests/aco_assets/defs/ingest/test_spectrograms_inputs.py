"""``spectrograms`` reads the day's file list from ``raw_files``: its order, and the clear error
for a day whose ``raw_files`` was never materialized."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from aco_assets.defs.ingest.spectrograms import day_file_rows
from aco_assets.hydrophone.coverage import day_coverage
from aco_assets.storage.warehouse import Warehouse

DAY = dt.date(2016, 2, 1)


def _row(path: str, status: str, start: dt.datetime | None, reason: str | None = None) -> dict:
    return {"day": DAY, "path": path, "nominal_start": start, "status": status, "reason": reason}


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    t0 = dt.datetime(2016, 2, 1)
    rows = [  # written out of order: the read puts them in the archive's order
        _row("2016/02/01/b-misfiled", "misfiled", None, "2016/02/01/b-misfiled: bad name"),
        _row("2016/02/01/2016-02-01--00.05.HYD24BBpk", "ok", t0 + dt.timedelta(minutes=5)),
        _row("2016/02/01/a-misfiled", "misfiled", t0, "2016/02/01/a-misfiled: wrong folder"),
        _row("2016/02/01/2016-02-01--00.00.HYD24BBpk", "unreadable", t0, "holds no bytes"),
    ]
    for r in rows:
        r.update(n_samples=0, n_missing_samples=0)
    w = Warehouse(tmp_path / "aco.duckdb")
    cov = day_coverage(DAY, [t0, t0 + dt.timedelta(minutes=5)], rows)
    w.replace_many(
        [
            ("raw_files", pa.Table.from_pylist(rows), "day = ?", [DAY]),
            ("coverage", pa.Table.from_pylist([cov]), "day = ?", [DAY]),
        ]
    )
    return w


def test_the_files_come_in_time_order_then_the_misfiled_entries_by_path(warehouse):
    got = day_file_rows(warehouse, [DAY])[DAY]
    assert [(r["path"].rsplit("/", 1)[1], r["status"]) for r in got] == [
        ("2016-02-01--00.00.HYD24BBpk", "unreadable"),
        ("2016-02-01--00.05.HYD24BBpk", "ok"),
        ("a-misfiled", "misfiled"),
        ("b-misfiled", "misfiled"),
    ]


def test_a_day_without_raw_files_stops_the_step_naming_it(warehouse):
    later = DAY + dt.timedelta(days=1)
    with pytest.raises(dg.Failure, match=f"raw_files of {later} not materialized"):
        day_file_rows(warehouse, [DAY, later])
