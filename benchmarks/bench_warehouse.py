"""Benchmark the warehouse: seconds per per-day write and read of a full day, Parquet vs one file.

A full day is 288 five-minute files: 17 280 ``windows`` and ``anomaly_scores`` rows, a few dozen
``quality_issues`` and ``detections``. The warehouse first holds ``--days`` earlier days, then
each of ``--repeats`` days is written as the pipeline writes it (``spectrograms``: windows and
quality_issues together; ``anomaly_scores``; ``detections``) and read back as ``detections``
reads it. The same writes go to a single DuckDB file as the warehouse did before the Parquet
layout (open read-write, delete the day, insert, commit, close), for comparison.

Run:  python benchmarks/bench_warehouse.py [--days 30] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from aco_assets.storage.warehouse import Warehouse
from aco_assets.storage.warehouse_schema import TABLES_BY_NAME

WINDOWS_PER_DAY = 288 * 60
READ_SQL = (
    "SELECT s.*, w.offset_s FROM anomaly_scores s JOIN windows w USING (day, window_index) "
    "WHERE s.day = ? ORDER BY s.window_start"
)


def day_tables(day: dt.date, rng: np.random.Generator) -> dict[str, pa.Table]:
    """Realistic rows of one full day for each per-day table the pipeline writes."""
    n = WINDOWS_PER_DAY
    start = np.datetime64(dt.datetime.combine(day, dt.time()), "us")
    starts = start + np.arange(n) * np.timedelta64(5, "s")
    files = [
        f"{day:%Y/%m/%d}/{day:%Y-%m-%d}--{i // 60 // 12:02d}.{i // 60 % 12 * 5:02d}.HYD24BBpk"
        for i in range(n)
    ]
    common = {
        "day": [day] * n,
        "window_index": np.arange(n, dtype=np.int32),
        "window_start": starts,
        "window_end": starts + np.timedelta64(5, "s"),
        "file": files,
    }
    windows = {
        **common,
        "offset_s": (np.arange(n) % 60) * 5.0,
        "valid": rng.random(n) > 0.01,
        "missing_share": rng.random(n) * 0.01,
        **{f"level_{b}_db": rng.normal(60, 5, n) for b in ("broadband", "low", "mid", "high")},
    }
    scores = {
        **common,
        **{c: rng.random(n) for c in ("score", "tail_prob", "latent_nll", "np_error")},
        **{c: rng.random(n) for c in ("recon_error", "energy_score", "combined")},
        "is_anomaly": rng.random(n) > 0.999,
        "quality_flag": rng.random(n) > 0.99,
        "model_version": np.ones(n, np.int32),
    }
    k = 30
    issues = {
        "day": [day] * k,
        "file": files[:k],
        "kind": ["gap"] * k,
        "start_utc": starts[:k],
        "end_utc": starts[:k],
        "detail": ["x"] * k,
    }
    detections = {
        "day": [day] * k,
        "detection_id": [f"{day:%Y%m%d}-{i:04d}" for i in range(k)],
        "start_utc": starts[:k],
        "end_utc": starts[:k],
        "peak_score": rng.random(k),
        "rank_in_day": np.arange(1, k + 1, dtype=np.int32),
    }
    tables = {
        "windows": windows,
        "quality_issues": issues,
        "anomaly_scores": scores,
        "detections": detections,
    }
    return {name: _complete(name, pa.table(columns)) for name, columns in tables.items()}


def _complete(name: str, rows: pa.Table) -> pa.Table:
    """``rows`` with every declared NOT NULL column it lacks (zeros): the schema may grow."""
    for col in TABLES_BY_NAME[name].columns:
        if col.not_null and col.name not in rows.column_names:
            zeros = pa.array(np.zeros(rows.num_rows, np.int64)).cast(pa.int64())
            if pa.types.is_timestamp(col.arrow_type):
                values = rows["window_start"] if "window_start" in rows.column_names else zeros
            else:
                values = zeros
            rows = rows.append_column(col.name, values.cast(col.arrow_type))
    return rows


def single_file_write(path: Path, writes: list[tuple[str, pa.Table, dt.date]]) -> None:
    """The write of the warehouse before the Parquet layout: one read-write transaction."""
    con = duckdb.connect(str(path))
    try:
        for name in {w[0] for w in writes}:
            cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in TABLES_BY_NAME[name].columns)
            con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({cols})')
        con.execute("BEGIN TRANSACTION")
        for name, rows, day in writes:
            con.execute(f'DELETE FROM "{name}" WHERE day = ?', [day])
            con.register("_incoming", rows)
            names = ", ".join(f'"{c}"' for c in rows.column_names)
            con.execute(f'INSERT INTO "{name}" ({names}) SELECT {names} FROM _incoming')
            con.unregister("_incoming")
        con.execute("COMMIT")
    finally:
        con.close()


def single_file_read(path: Path, day: dt.date) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(READ_SQL, params=[day]).to_arrow_table().num_rows
    finally:
        con.close()


def pipeline_writes(tables: dict[str, pa.Table], day: dt.date) -> list[list]:
    """The writes of one day, grouped as the stages make them."""
    return [
        [("windows", tables["windows"], day), ("quality_issues", tables["quality_issues"], day)],
        [("anomaly_scores", tables["anomaly_scores"], day)],
        [("detections", tables["detections"], day)],
    ]


def run(days: int, repeats: int, work: Path) -> dict:
    rng = np.random.default_rng(0)
    first = dt.date(2016, 1, 1)
    warehouse, single = Warehouse(work / "data" / "aco.duckdb"), work / "single.duckdb"
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for group in pipeline_writes(day_tables(day, rng), day):
            warehouse.replace_many([(t, rows, "day = ?", [d]) for t, rows, d in group])
            single_file_write(single, group)
    timings: dict[str, list[float]] = {k: [] for k in ("parquet", "single_file")}
    reads: dict[str, list[float]] = {k: [] for k in ("parquet", "single_file")}
    for i in range(repeats):
        day = first + dt.timedelta(days=i % max(days, 1))  # a re-run of a day already written
        groups = pipeline_writes(day_tables(day, rng), day)
        t0 = time.perf_counter()
        for group in groups:
            warehouse.replace_many([(t, rows, "day = ?", [d]) for t, rows, d in group])
        timings["parquet"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for group in groups:
            single_file_write(single, group)
        timings["single_file"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        warehouse.query(READ_SQL, [day])
        reads["parquet"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        single_file_read(single, day)
        reads["single_file"].append(time.perf_counter() - t0)
    return {
        "days_before": days,
        "rows_per_day": WINDOWS_PER_DAY,
        "write_day_s": {k: statistics.median(v) for k, v in timings.items()},
        "read_day_s": {k: statistics.median(v) for k, v in reads.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days written before timing")
    parser.add_argument("--repeats", type=int, default=5, help="days timed (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args.days, args.repeats, Path(tmp))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
