"""``raw_files`` and ``spectrograms`` of a day in one step that reads each file once.

The two assets are one subsettable multi-asset (its op: ``ingest``). Materialized together, as
``ingest_job`` and the nightly run do, every file of the day is read and its record headers
walked once, in the worker processes: the ``raw_files`` row and the spectrogram windows come from
the same bytes (:func:`~aco_assets.signal.processing.ingest_file`). Either asset can still be
materialized alone from the UI: ``raw_files`` walks the headers only, ``spectrograms`` takes the
day's file list from its ``raw_files`` rows.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Literal

import dagster as dg

from aco_assets.defs.day_reports import day_results
from aco_assets.defs.ingest import raw_files, spectrograms
from aco_assets.defs.partitions import (
    daily_partitions,
    day_backfill_policy,
    partition_days,
    progress_logger,
)
from aco_assets.defs.resources import StorageResource
from aco_assets.signal.features import FrontEnd, FrontEndConfig
from aco_assets.signal.pool import map_files
from aco_assets.signal.processing import ingest_entry, misfiled_windows
from aco_assets.storage.paths import advise_will_need, relative_posix

_FRONT_END = FrontEndConfig()  # the one set of front-end defaults


class IngestConfig(dg.Config):
    workers: int = 2  # processes reading files in parallel
    # analysis window length, s (changing it requires retraining)
    window_s: float = _FRONT_END.window_s
    # features relative to each file's per-band median (spectral equalisation: transients stay,
    # season / time of day / gain drift go; the production front end, FrontEndConfig's default,
    # measured against the two-channel front end by the model study, docs/model_results.md),
    # absolute, or both as two channels; changing it requires retraining
    normalise: Literal["none", "file_median", "file_median_and_absolute"] = _FRONT_END.normalise


@dg.multi_asset(
    name="ingest",
    specs=[raw_files.RAW_FILES, spectrograms.SPECTROGRAMS],
    check_specs=[raw_files.FILES_ARE_DECODABLE, spectrograms.FEATURES_ARE_FINITE],
    partitions_def=daily_partitions,
    backfill_policy=day_backfill_policy,
    group_name="ingest",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    can_subset=True,
)
def ingest(context: dg.AssetExecutionContext, config: IngestConfig, storage: StorageResource):
    """Index the day's archive files (``raw_files``) and cut them into spectrogram windows
    (``spectrograms``), reading each file once when both are selected."""
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    days = partition_days(context)
    front_end = FrontEnd(FrontEndConfig(window_s=config.window_s, normalise=config.normalise))
    checks: dict[str, dict] = {}
    windows_of = None
    if "raw_files" in selected:
        windows = "spectrograms" in selected
        archive = storage.archive()
        listing, root = raw_files.list_days(context, archive, days), archive.root
        entries = [
            (path, windows and is_file) for day in days for path, is_file in _paths(listing[day])
        ]
        read = map_files(
            ingest_entry,
            entries,
            root,
            front_end.config,
            workers=config.workers,
            on_done=progress_logger(context, "files read" if windows else "indexed files"),
            prefetch=lambda entry: advise_will_need(entry[0]),
        )
        rows_of, windows_of = _per_day(days, listing, read, root, front_end, windows)
        checks["files_are_decodable"] = {
            day: raw_files.write_day(context, storage, day, listing[day], rows_of[day])
            for day in days
        }
    if "spectrograms" in selected:
        if windows_of is None:
            windows_of = spectrograms.windows_from_raw_files(
                context, storage, days, front_end, config.workers
            )
        checks["features_are_finite"] = {
            day: spectrograms.write_day(context, storage, day, front_end, windows_of[day])
            for day in days
        }
    yield from day_results(context, checks)


def _paths(listing: raw_files.DayListing) -> list[tuple]:
    """(path, whether it is a file to cut into windows) for each entry, in listing order."""
    return [(f.path, True) for f in listing.files] + [(m.path, False) for m in listing.misfiled]


def _per_day(days, listing, read: Iterator, root, front_end: FrontEnd, windows: bool):
    """The ``raw_files`` rows of each day, and with ``windows`` its files' windows followed by
    its misfiled entries' (in the order ``spectrograms`` alone takes them from ``raw_files``)."""
    rows_of, windows_of = {}, {}
    for day in days:
        got = [next(read) for _ in listing[day].paths]
        rows_of[day] = raw_files.day_rows(day, listing[day], (row for row, _ in got))
        if windows:
            misfiled = sorted(listing[day].misfiled, key=lambda m: _misfiled_order(m, root))
            windows_of[day] = [w for _, w in got if w is not None] + [
                misfiled_windows(m, root, front_end.feature_shape) for m in misfiled
            ]
    return rows_of, (windows_of if windows else None)


def _misfiled_order(entry, root) -> tuple:
    start = entry.nominal_start_utc
    return (start is None, start or dt.datetime.min, relative_posix(entry.path, root))
