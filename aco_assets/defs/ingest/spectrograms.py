"""``spectrograms``: the front end applied to every file of the day, streamed file by file.

Materialized by the ingest step (:mod:`aco_assets.defs.ingest.day_ingest`): with ``raw_files``
from the same read of each file; alone, for the files of the day's ``raw_files`` rows (read from
the warehouse, not listed from the archive again). Either way the files come in time order, then
the misfiled entries, one quality issue each.

Writes the day's feature array to ``<store>/features/YYYY/YYYY-MM-DD.npy``
(:mod:`aco_assets.storage.feature_store`; the store is the data directory unless ``ACO_STORE_ROOT``
says otherwise) (shape (N, 1, F, T),
row i = ``window_index`` i) with a JSON sidecar holding the front-end config, and one
``windows`` row per analysis window (plus the day's ``quality_issues``) in one transaction.
"""

import datetime as dt

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import DayCheck, day_check_spec, report_day
from aco_assets.defs.partitions import progress_logger
from aco_assets.defs.resources import StorageResource
from aco_assets.reporting.figures import (
    day_spectrogram,
    markdown_image,
    png_bytes,
    status_strip_markdown,
)
from aco_assets.reporting.thinning import thin_for_picture
from aco_assets.signal.features import FrontEnd
from aco_assets.signal.pool import map_files
from aco_assets.signal.processing import (
    FileWindows,
    file_windows,
    misfiled_entry_windows,
)
from aco_assets.storage.feature_store import save_day_features
from aco_assets.storage.paths import advise_will_need
from aco_assets.storage.warehouse import Warehouse


def _day_tables(day: dt.date, results: list[FileWindows]) -> tuple[np.ndarray, pa.Table, pa.Table]:
    columns: dict[str, list] = {}
    for r in results:
        for key, values in r.rows.items():
            columns.setdefault(key, []).extend(values)
    n = sum(r.n_windows for r in results)
    windows = (
        pa.table({"day": [day] * n, "window_index": list(range(n)), **columns})
        if n
        else pa.table({"day": pa.array([], pa.date32())})
    )
    issues = [{"day": day, **i} for r in results for i in r.issues]
    issues += [
        {
            "day": day,
            "file": r.file,
            "kind": "unreadable",
            "start_utc": None,
            "end_utc": None,
            "detail": r.error,
        }
        for r in results
        if r.error
    ]
    issues_table = (
        pa.Table.from_pylist(issues) if issues else pa.table({"day": pa.array([], pa.date32())})
    )
    features = np.concatenate([r.features for r in results]) if results else None
    return features, windows, issues_table


def day_file_rows(warehouse: Warehouse, days: list[dt.date]) -> dict[dt.date, list[dict]]:
    """The ``raw_files`` rows (``path``, ``status``, ``reason``) of each day, in the archive's
    order: files by nominal start, then misfiled entries by path.

    Raises a :class:`dagster.Failure` naming the days whose ``raw_files`` partition was never
    materialized (no ``coverage`` row): their file list is unknown.
    """
    lo, hi = min(days), max(days)
    rows = warehouse.query(
        "SELECT day, path, status, reason FROM raw_files WHERE day BETWEEN ? AND ? "
        "ORDER BY day, status = 'misfiled', nominal_start NULLS LAST, path",
        [lo, hi],
    ).to_pylist()
    covered = {
        r["day"]
        for r in warehouse.query(
            "SELECT DISTINCT day FROM coverage WHERE day BETWEEN ? AND ?", [lo, hi]
        ).to_pylist()
    }
    unlisted = [d for d in days if d not in covered]
    if unlisted:
        raise dg.Failure(
            description=f"raw_files of {', '.join(map(str, unlisted))} not materialized: the "
            "spectrograms of a day read its file list from raw_files; materialize raw_files "
            "for these days first",
            allow_retries=False,
        )
    out: dict[dt.date, list[dict]] = {day: [] for day in days}
    for r in rows:
        if r["day"] in out:
            out[r["day"]].append(r)
    return out


SPECTROGRAMS = dg.AssetSpec(
    "spectrograms",
    description="Log-frequency spectrogram windows of every file of the day (gaps and faults "
    "excluded and counted), feature arrays on disk and one DuckDB row per window.",
    deps=["raw_files"],
    kinds={"duckdb", "numpy"},
)
FEATURES_ARE_FINITE = day_check_spec(
    "features_are_finite",
    "spectrograms",
    "Every feature value of the day's windows is finite: no NaN or inf reaches the "
    "detector. One result per UTC day.",
)


def windows_from_raw_files(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    days: list[dt.date],
    front_end: FrontEnd,
    workers: int,
) -> dict[dt.date, list[FileWindows]]:
    """The windows of each day's files as its ``raw_files`` rows list them (``spectrograms``
    materialized alone): files in time order, then the misfiled entries, one issue each."""
    archive = storage.archive()
    listed = day_file_rows(storage.warehouse(), days)
    items = [(day, r["path"]) for day in days for r in listed[day] if r["status"] != "misfiled"]
    results_of: dict[dt.date, list[FileWindows]] = {day: [] for day in days}
    done = map_files(
        file_windows,
        [archive.root / rel for _, rel in items],
        archive.root,
        front_end.config,
        workers=workers,
        on_done=progress_logger(context, "features of files"),
        prefetch=advise_will_need,
    )
    for (day, _), result in zip(items, done, strict=True):
        results_of[day].append(result)
    for day in days:  # misfiled entries: no windows, one quality issue each
        results_of[day] += [
            misfiled_entry_windows(r["path"], r["reason"], front_end.feature_shape)
            for r in listed[day]
            if r["status"] == "misfiled"
        ]
    return results_of


def write_day(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    day: dt.date,
    front_end: FrontEnd,
    results: list[FileWindows],
) -> DayCheck:
    """Write the day's feature array, replace its ``windows`` and ``quality_issues`` rows (one
    transaction), report the day's page and return its ``features_are_finite`` result."""
    layout = storage.layout()
    features, windows, issues = _day_tables(day, results)
    if features is None:
        features = np.zeros((0, *front_end.feature_shape), np.float32)
    save_day_features(layout.features_path(day), features, front_end.config)
    storage.warehouse().replace_many(
        [
            ("windows", windows, "day = ?", [day]),
            ("quality_issues", issues, "day = ?", [day]),
        ]
    )
    unreadable = sum(r.error is not None for r in results)
    metadata = day_metadata(front_end, day, features, windows, issues, unreadable, layout)
    report_day(context, day, metadata, asset="spectrograms")
    return features_are_finite(day, features)


def day_metadata(front_end, day, features, windows: pa.Table, issues: pa.Table, unreadable, layout):
    """The day's own window counts, hours of audio, a strip of its windows and its spectrogram."""
    n = windows.num_rows
    valid = int(sum(windows["valid"].to_pylist())) if n else 0
    hours = n * front_end.config.window_s / 3600
    metadata = {
        "summary": dg.MetadataValue.text(
            f"{day}: {n} windows of {front_end.config.window_s:g} s ({hours:.2f} h of audio), "
            f"{valid} valid, {n - valid} invalid; {issues.num_rows} quality issues; "
            f"{unreadable} unreadable files"
            if n
            else f"{day}: no windows (no readable files)"
        ),
        "windows": n,
        "valid_windows": valid,
        "invalid_windows": n - valid,
        "audio_h": round(hours, 3),
        "quality_issues": issues.num_rows,
        "unreadable_files": int(unreadable),
    }
    if n:
        metadata["windows_strip"] = dg.MetadataValue.md(_windows_strip(day, windows))
        metadata["day_spectrogram"] = dg.MetadataValue.md(
            _picture(front_end, day, features, windows)
        )
    metadata["feature_shape"] = str(front_end.feature_shape)
    metadata["features_file"] = dg.MetadataValue.path(layout.relative(layout.features_path(day)))
    return metadata


def _windows_strip(day: dt.date, windows: pa.Table) -> str:
    """The day's 288 five-minute slots: green with valid windows, yellow with invalid only."""
    starts = np.array(windows["window_start"].to_pylist(), dtype="datetime64[s]")
    slot = ((starts - np.datetime64(day, "s")).astype(np.int64) // 300).clip(0, 287)
    valid = np.asarray(windows["valid"].to_pylist(), dtype=bool)
    codes = np.zeros(288, np.int64)
    np.maximum.at(codes, slot[~valid], 2)
    codes[slot[valid]] = 1
    return status_strip_markdown(
        codes,
        ("#d9d9d9", "#2a9d8f", "#e9c46a"),
        alt=f"windows of {day}, 00-24 UTC: green valid, yellow invalid only, grey none",
    )


def features_are_finite(day: dt.date, features: np.ndarray) -> DayCheck:
    """Every feature value of the day is finite (no NaN or inf reaches the model)."""
    bad = int((~np.isfinite(features)).any(axis=tuple(range(1, features.ndim))).sum())
    what = (
        f"all {len(features)} windows finite"
        if not bad
        else f"{bad} of {len(features)} windows hold NaN or inf"
    )
    return DayCheck(
        not bad,
        f"{day}: {what}",
        {"windows": len(features), "non_finite_windows": bad},
        severity=dg.AssetCheckSeverity.ERROR,
    )


def _picture(front_end: FrontEnd, day: dt.date, features: np.ndarray, windows: pa.Table) -> str:
    starts = np.array(windows["window_start"].to_pylist(), dtype="datetime64[us]")
    levels = np.asarray(features, dtype=np.float32).mean(axis=-1)[:, 0, :]  # (N, F)
    starts, levels, _ = thin_for_picture(starts, levels)
    fig = day_spectrogram(
        starts, levels, front_end.band_centers_hz, title=f"{day} band levels (dB)"
    )
    return markdown_image(png_bytes(fig), f"spectrogram {day}")
