"""``raw_files``: one row per archive file of the day, and the day's coverage."""

import datetime as dt
from collections.abc import Iterator, Sequence

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import DayCheck, day_check_spec, day_results, pct, report_day
from aco_assets.defs.partitions import (
    daily_partitions,
    day_backfill_policy,
    partition_days,
    progress_logger,
)
from aco_assets.defs.resources import StorageResource
from aco_assets.hydrophone import FILES_PER_DAY, ArchiveFile, MisfiledFile
from aco_assets.hydrophone.coverage import (
    NOT_READ,
    day_coverage,
)
from aco_assets.reporting.figures import status_strip_markdown
from aco_assets.signal.processing import inventory_file, map_files, misfiled_row


class RawFilesConfig(dg.Config):
    workers: int = 2  # processes decoding files in parallel


def day_rows(
    day: dt.date,
    files: list[ArchiveFile],
    misfiled: list[MisfiledFile],
    inventoried: Iterator[dict],
) -> list[dict]:
    """The ``raw_files`` rows of a day from ``inventoried``, the :func:`.processing.inventory_file`
    rows of its files and then of its misfiled entries, in the order of ``files`` and ``misfiled``."""
    rows = [{"day": day, "nominal_start": f.nominal_start_utc, **next(inventoried)} for f in files]
    rows += [misfiled_row({"day": day, **next(inventoried)}, m) for m in misfiled]
    return rows


def _warn_unread(context: dg.AssetExecutionContext, rows: list[dict]) -> None:
    """One WARNING per file of which nothing is decoded, naming it and why."""
    for r in rows:
        if r["status"] in NOT_READ:
            reason = (r["reason"] or "").removeprefix(r["path"]).lstrip(": ")
            context.log.warning(f"{r['day']}: {r['path']}: {r['status']}: {reason}")


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=day_backfill_policy,
    group_name="ingest",
    kinds={"duckdb"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    check_specs=[
        day_check_spec(
            "files_are_decodable",
            "raw_files",
            "Every file of the day can be read (none unreadable or misfiled) and at least 95 % "
            "of its samples decode (WARN otherwise). One result per UTC day; a day without "
            "files passes with nothing to decode.",
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
    misfiled = {day: archive.misfiled(day) for day in days}
    paths = [
        p for day in days for p in [f.path for f in listing[day]] + [m.path for m in misfiled[day]]
    ]
    context.log.info(
        f"{len(paths)} files over {len(days)} day(s), "
        f"{sum(map(len, misfiled.values()))} of them misfiled (listed, not decoded)"
    )
    inventoried = map_files(
        inventory_file,
        paths,
        archive.root,
        workers=config.workers,
        on_done=progress_logger(context, "decoded files"),
    )
    rows_of = {day: day_rows(day, listing[day], misfiled[day], inventoried) for day in days}
    checks: dict[dt.date, DayCheck] = {}
    for day in days:
        _warn_unread(context, rows_of[day])
        cov = day_coverage(day, [f.nominal_start_utc for f in listing[day]], rows_of[day])
        warehouse.replace_many(
            [
                ("raw_files", _table(rows_of[day]), "day = ?", [day]),
                ("coverage", pa.Table.from_pylist([cov]), "day = ?", [day]),
            ]
        )
        report_day(context, day, day_metadata(cov, rows_of[day], storage))
        checks[day] = files_are_decodable(cov, rows_of[day])
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
            f"{cov['missing']} missing, {cov['faulty']} faulty ({cov['unreadable']} unreadable, "
            f"{cov['misfiled']} misfiled); {decodable}"
        ),
        "files": dg.MetadataValue.md(_files_strip(cov["day"], rows)),
        "files_found": cov["found"],
        "files_missing": cov["missing"],
        "files_faulty": cov["faulty"],
        "files_unreadable": cov["unreadable"],
        "files_misfiled": cov["misfiled"],
        "decodable_pct": (
            dg.MetadataValue.text("no files") if share is None else pct(share, digits=2)
        ),
        "duckdb": dg.MetadataValue.path(storage.layout().relative(storage.layout().duckdb_path)),
    }


def _files_strip(day: dt.date, rows: list[dict]) -> str:
    """The 288 five-minute slots of the day: grey missing, green ok, yellow faulty, red unreadable."""
    codes = np.zeros(FILES_PER_DAY, np.int64)
    midnight = dt.datetime.combine(day, dt.time())
    for r in rows:
        if r["nominal_start"] is None:  # a misfiled name that is no time
            continue
        slot = int((r["nominal_start"] - midnight).total_seconds() // 300)
        if 0 <= slot < FILES_PER_DAY:
            codes[slot] = max(codes[slot], FILE_CODES.get(r["status"], 3))
    return status_strip_markdown(
        codes,
        FILE_COLORS,
        alt=f"files of {day}, 00-24 UTC: grey missing, green ok, yellow faulty, red unreadable",
    )


def files_are_decodable(
    cov: dict, rows: Sequence[dict] = (), *, min_share: float = 0.95, max_listed: int = 5
) -> DayCheck:
    """Every file of a day can be read and at least ``min_share`` of its samples decode (WARN
    otherwise): one unreadable or misfiled file fails the day, named in the metadata."""
    share = cov["decodable_share"]
    if not cov["found"] and not cov["misfiled"]:
        return DayCheck(True, f"{cov['day']}: no files, nothing to decode", {"files_found": 0})
    unread = [r["path"] for r in rows if r["status"] in NOT_READ]
    n_unread = cov["unreadable"] + cov["misfiled"]
    passed = (share or 0.0) >= min_share and n_unread == 0
    cannot = (
        f"{n_unread} of {cov['found'] + cov['misfiled']} files not read ({cov['unreadable']} "
        f"unreadable, {cov['misfiled']} misfiled); "
        if n_unread
        else ""
    )
    metadata = {
        "decodable_pct": pct(share or 0.0, digits=2),
        "min_pct": pct(min_share),
        "files_unreadable": cov["unreadable"],
        "files_misfiled": cov["misfiled"],
    }
    if unread:
        more = f" (+{len(unread) - max_listed} more)" if len(unread) > max_listed else ""
        metadata["files_not_read"] = ", ".join(unread[:max_listed]) + more
    return DayCheck(
        passed,
        f"{cov['day']}: {cannot}{pct(share or 0.0, digits=2)} % of the samples of "
        f"{cov['found'] + cov['misfiled']} files decodable ({pct(min_share)} % wanted)",
        metadata,
    )
