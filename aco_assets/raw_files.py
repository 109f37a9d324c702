"""``raw_files``: one row per archive file of the day, and the day's coverage."""

import datetime as dt
import json
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.day_reports import DayCheck, day_check_spec, day_results, pct, report_day
from aco_assets.figures import status_strip_markdown
from aco_assets.partitions import daily_partitions, partition_days, progress_logger
from aco_assets.processing import inventory_file, map_files
from aco_assets.resources import StorageResource

FILES_PER_DAY = 288  # 24 h of 5-minute files


class RawFilesConfig(dg.Config):
    workers: int = 2  # processes decoding files in parallel


def day_coverage(day: dt.date, nominal_starts: list[dt.datetime], rows: list[dict]) -> dict:
    """The coverage row of a day: expected 288 files, found, missing, faulty, unreadable."""
    expected = [
        dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=5 * i)
        for i in range(FILES_PER_DAY)
    ]
    present = set(nominal_starts)
    samples = sum(r["n_samples"] for r in rows)
    decoded = samples - sum(r["n_missing_samples"] for r in rows)
    return {
        "day": day,
        "expected": FILES_PER_DAY,
        "found": len(rows),
        "missing": sum(t not in present for t in expected),
        "faulty": sum(r["status"] == "faulty" for r in rows),
        "unreadable": sum(r["status"] == "unreadable" for r in rows),
        "decodable_share": (decoded / samples) if samples else (0.0 if rows else None),
        "missing_starts": json.dumps([t.isoformat() for t in expected if t not in present]),
    }


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    group_name="ingest",
    kinds={"duckdb"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    check_specs=[
        day_check_spec(
            "files_are_decodable",
            "raw_files",
            "At least 95 % of the samples of the day's files decode (WARN below). One result "
            "per UTC day; a day without files passes with nothing to decode.",
        )
    ],
)
def raw_files(
    context: dg.AssetExecutionContext, config: RawFilesConfig, storage: StorageResource
) -> Iterator:
    """The archive files of each UTC day: times, records, sample widths and faults, plus the
    day's coverage (expected 288 files, found, missing, faulty). A day with no files is an empty
    coverage row, not an error."""
    archive, warehouse = storage.archive(), storage.warehouse()
    days = partition_days(context)
    listing = {day: archive.day_files(day) for day in days}
    items = [(day, f) for day in days for f in listing[day]]
    context.log.info(f"{len(items)} files over {len(days)} day(s)")
    rows_of: dict[dt.date, list[dict]] = {day: [] for day in days}
    for (day, f), row in zip(
        items,
        map_files(
            inventory_file,
            [f.path for _, f in items],
            archive.root,
            workers=config.workers,
            on_done=progress_logger(context, "decoded files"),
        ),
        strict=True,
    ):
        rows_of[day].append({"day": day, "nominal_start": f.nominal_start_utc, **row})
    checks: dict[dt.date, DayCheck] = {}
    for day in days:
        cov = day_coverage(day, [f.nominal_start_utc for f in listing[day]], rows_of[day])
        warehouse.replace_many(
            [
                ("raw_files", _table(rows_of[day]), "day = ?", [day]),
                ("coverage", pa.Table.from_pylist([cov]), "day = ?", [day]),
            ]
        )
        report_day(context, day, day_metadata(cov, rows_of[day], storage))
        checks[day] = files_are_decodable(cov)
    yield from day_results(context, {"files_are_decodable": checks})


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows) if rows else pa.table({"day": pa.array([], pa.date32())})


FILE_COLORS = ("#d9d9d9", "#2a9d8f", "#e9c46a", "#e76f51")  # missing, ok, faulty, unreadable
FILE_CODES = {"ok": 1, "faulty": 2, "unreadable": 3}


def day_metadata(cov: dict, rows: list[dict], storage: StorageResource) -> dict:
    """What the day's partition page shows first: its own counts, in words and as numbers."""
    share = cov["decodable_share"]
    decodable = "no files" if share is None else f"{pct(share, digits=2)} % of samples decodable"
    return {
        "summary": dg.MetadataValue.text(
            f"{cov['day']}: {cov['found']} of {cov['expected']} five-minute files found, "
            f"{cov['missing']} missing, {cov['faulty']} faulty, {cov['unreadable']} unreadable; "
            f"{decodable}"
        ),
        "files": dg.MetadataValue.md(_files_strip(cov["day"], rows)),
        "files_found": cov["found"],
        "files_missing": cov["missing"],
        "files_faulty": cov["faulty"],
        "files_unreadable": cov["unreadable"],
        "decodable_pct": (
            dg.MetadataValue.text("no files") if share is None else pct(share, digits=2)
        ),
        "duckdb": dg.MetadataValue.path(str(storage.layout().duckdb_path)),
    }


def _files_strip(day: dt.date, rows: list[dict]) -> str:
    """The 288 five-minute slots of the day: grey missing, green ok, yellow faulty, red unreadable."""
    codes = np.zeros(FILES_PER_DAY, np.int64)
    midnight = dt.datetime.combine(day, dt.time())
    for r in rows:
        slot = int((r["nominal_start"] - midnight).total_seconds() // 300)
        if 0 <= slot < FILES_PER_DAY:
            codes[slot] = max(codes[slot], FILE_CODES.get(r["status"], 3))
    return status_strip_markdown(
        codes,
        FILE_COLORS,
        alt=f"files of {day}, 00-24 UTC: grey missing, green ok, yellow faulty, red unreadable",
    )


def files_are_decodable(cov: dict, *, min_share: float = 0.95) -> DayCheck:
    """A day with files decodes at least ``min_share`` of its samples (WARN otherwise)."""
    share = cov["decodable_share"]
    if not cov["found"]:
        return DayCheck(True, f"{cov['day']}: no files, nothing to decode", {"files_found": 0})
    passed = (share or 0.0) >= min_share
    return DayCheck(
        passed,
        f"{cov['day']}: {pct(share or 0.0, digits=2)} % of the samples of {cov['found']} files "
        f"decodable ({pct(min_share)} % wanted)",
        {"decodable_pct": pct(share or 0.0, digits=2), "min_pct": pct(min_share)},
    )
