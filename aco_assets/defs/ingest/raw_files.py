"""``raw_files``: one row per archive file of the day, and the day's coverage.

Materialized by the ingest step (:mod:`aco_assets.defs.ingest.day_ingest`), which reads each file
of the day once for it and for ``spectrograms``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import DayCheck, day_check_spec, pct, report_day
from aco_assets.defs.resources import StorageResource
from aco_assets.hydrophone import FILES_PER_DAY, Archive, ArchiveFile, MisfiledFile
from aco_assets.hydrophone.coverage import (
    NOT_READ,
    day_coverage,
)
from aco_assets.reporting.figures import status_strip_markdown
from aco_assets.signal.processing import misfiled_row


def day_rows(day: dt.date, listing: DayListing, inventoried: Iterator[dict]) -> list[dict]:
    """The ``raw_files`` rows of a day from ``inventoried``, the :func:`.processing.inventory_file`
    rows of its files and then of its misfiled entries, in the order of ``listing.paths``."""
    rows = [
        {"day": day, "nominal_start": f.nominal_start_utc, **next(inventoried)}
        for f in listing.files
    ]
    rows += [misfiled_row({"day": day, **next(inventoried)}, m) for m in listing.misfiled]
    return rows


def _warn_unread(context: dg.AssetExecutionContext, rows: list[dict]) -> None:
    """One WARNING per file of which nothing is decoded, naming it and why."""
    for r in rows:
        if r["status"] in NOT_READ:
            reason = (r["reason"] or "").removeprefix(r["path"]).lstrip(": ")
            context.log.warning(f"{r['day']}: {r['path']}: {r['status']}: {reason}")


RAW_FILES = dg.AssetSpec(
    "raw_files",
    description="The archive files of each UTC day: times, records, sample widths and faults, "
    "plus the day's coverage (expected 288 files, found, missing, faulty). A day with no files "
    "is an empty coverage row, not an error.",
    kinds={"duckdb"},
)
FILES_ARE_DECODABLE = day_check_spec(
    "files_are_decodable",
    "raw_files",
    "Every file of the day can be read (none unreadable or misfiled) and at least 95 % "
    "of its samples decode (WARN otherwise). One result per UTC day; a day without "
    "files passes with nothing to decode.",
)


@dataclass(frozen=True)
class DayListing:
    """The archive entries of a day: its files in time order and its misfiled entries."""

    files: list[ArchiveFile]
    misfiled: list[MisfiledFile]

    @property
    def paths(self) -> list:
        """Files, then misfiled entries: the order of :func:`day_rows`."""
        return [f.path for f in self.files] + [m.path for m in self.misfiled]


def list_days(
    context: dg.AssetExecutionContext, archive: Archive, days: list[dt.date]
) -> dict[dt.date, DayListing]:
    """The listing of each day, logged in one line."""
    listed = {day: DayListing(archive.day_files(day), archive.misfiled(day)) for day in days}
    n_files = sum(len(v.paths) for v in listed.values())
    n_misfiled = sum(len(v.misfiled) for v in listed.values())
    context.log.info(
        f"{n_files} files over {len(days)} day(s), {n_misfiled} of them misfiled (listed, "
        "not decoded)"
    )
    return listed


def write_day(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    day: dt.date,
    listing: DayListing,
    rows: list[dict],
) -> DayCheck:
    """Replace the day's ``raw_files`` and ``coverage`` rows (one transaction), report the
    day's page and return its ``files_are_decodable`` result."""
    _warn_unread(context, rows)
    cov = day_coverage(day, [f.nominal_start_utc for f in listing.files], rows)
    storage.warehouse().replace_many(
        [
            ("raw_files", _table(rows), "day = ?", [day]),
            ("coverage", pa.Table.from_pylist([cov]), "day = ?", [day]),
        ]
    )
    report_day(context, day, day_metadata(cov, rows, storage), asset="raw_files")
    return files_are_decodable(cov, rows)


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
