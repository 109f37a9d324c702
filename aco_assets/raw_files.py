"""``raw_files``: one row per archive file of the day, and the day's coverage."""

import datetime as dt
import json

import dagster as dg
import pyarrow as pa

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
    check_specs=[dg.AssetCheckSpec("files_are_decodable", asset="raw_files")],
)
def raw_files(
    context: dg.AssetExecutionContext, config: RawFilesConfig, storage: StorageResource
) -> dg.MaterializeResult:
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
    coverage = []
    for day in days:
        cov = day_coverage(day, [f.nominal_start_utc for f in listing[day]], rows_of[day])
        warehouse.replace_many(
            [
                ("raw_files", _table(rows_of[day]), "day = ?", [day]),
                ("coverage", pa.Table.from_pylist([cov]), "day = ?", [day]),
            ]
        )
        coverage.append(cov)
    found = sum(c["found"] for c in coverage)
    return dg.MaterializeResult(
        check_results=[files_are_decodable(coverage)],
        metadata={
            "days": len(days),
            "files_found": found,
            "files_missing": sum(c["missing"] for c in coverage),
            "files_faulty": sum(c["faulty"] for c in coverage),
            "files_unreadable": sum(c["unreadable"] for c in coverage),
            "decodable_share": dg.MetadataValue.float(_mean_share(coverage)),
            "coverage": dg.MetadataValue.md(_coverage_md(coverage)),
            "duckdb": dg.MetadataValue.path(str(storage.layout().duckdb_path)),
        },
    )


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows) if rows else pa.table({"day": pa.array([], pa.date32())})


def _mean_share(coverage: list[dict]) -> float:
    shares = [c["decodable_share"] for c in coverage if c["decodable_share"] is not None]
    return float(sum(shares) / len(shares)) if shares else 1.0


def _coverage_md(coverage: list[dict], limit: int = 31) -> str:
    lines = [
        "| day | found | missing | faulty | unreadable | decodable |",
        "|---|---|---|---|---|---|",
    ]
    for c in coverage[:limit]:
        share = "-" if c["decodable_share"] is None else f"{c['decodable_share']:.4f}"
        lines.append(
            f"| {c['day']} | {c['found']} | {c['missing']} | {c['faulty']} | {c['unreadable']} | {share} |"
        )
    if len(coverage) > limit:
        lines.append(f"| ... {len(coverage) - limit} more days | | | | | |")
    return "\n".join(lines)


def files_are_decodable(coverage: list[dict], *, min_share: float = 0.95) -> dg.AssetCheckResult:
    """Every day with files decodes at least ``min_share`` of its samples (WARN otherwise)."""
    bad = [c for c in coverage if c["found"] and (c["decodable_share"] or 0.0) < min_share]
    return dg.AssetCheckResult(
        check_name="files_are_decodable",
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "min_share": min_share,
            "days_below": len(bad),
            "worst_days": ", ".join(
                f"{c['day']} ({c['decodable_share'] or 0:.3f})" for c in bad[:5]
            )
            or "none",
        },
    )
