"""``review_clips``: the day's top detections as WAV clips, spectrogram PNGs and a Raven table.

For the ``top_k`` detections of each day (by rank), the audio of the detection plus
``context_s`` on each side is loaded from the archive and rendered by
:func:`aco_assets.review.render_review` into ``<data>/review/YYYY-MM-DD/`` (clip names sort in
rank order), the day's Raven selection table ``YYYY-MM-DD.selections.txt`` is written against
those clips (the front-end parameters of the model version that scored them travel as
columns), and one ``review_clips`` row per clip is written in one transaction. Files left from
an earlier run of the day are removed first, so the folder always matches the table.
"""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from aco_assets.detections import detections
from aco_assets.hydrophone import Archive
from aco_assets.layout import DataLayout
from aco_assets.model_registry import load_version
from aco_assets.partitions import daily_partitions, partition_days
from aco_assets.resources import MlflowResource, StorageResource
from aco_assets.review import (
    ReviewRender,
    raven_selection_table,
    render_review,
    review_clip_name,
    review_span,
    selection_row,
    thumbnail_markdown,
)

#: Front-end settings written as columns of the Raven table (prefixed ``fe_``).
RAVEN_FRONT_END_KEYS: tuple[str, ...] = (
    "sample_rate_hz", "window_s", "n_bands", "f_min_hz", "f_max_hz", "nfft", "hop_samples",
)  # fmt: skip
REVIEW_FILE_SUFFIXES: tuple[str, ...] = (".wav", ".png", ".selections.txt")


class ReviewClipsConfig(dg.Config):
    top_k: int = 10  # detections rendered per day, best ranks first
    context_s: float = 2.0  # audio kept before and after each detection, s
    max_duration_s: float = 120.0  # longest clip; longer detections are cut around their peak
    thumbnails: int = 5  # clips shown as pictures in the materialization metadata


def selections_path(layout: DataLayout, day: dt.date) -> Path:
    """The day's Raven selection table, beside its clips."""
    return layout.review_day_dir(day) / f"{day:%Y-%m-%d}.selections.txt"


def clear_day_dir(directory: Path) -> int:
    """Remove the review files (WAV, PNG, selection table) of an earlier run; returns how many."""
    if not directory.is_dir():
        directory.mkdir(parents=True)
        return 0
    stale = [
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(REVIEW_FILE_SUFFIXES)
    ]
    for p in stale:
        p.unlink()
    return len(stale)


def clip_span(
    det: dict[str, Any], *, context_s: float, max_duration_s: float
) -> tuple[dt.datetime, float]:
    """Start (naive UTC) and length (s) of the audio to load for a detection (:func:`review_span`)."""
    start, end = review_span(
        det["start_utc"],
        det["end_utc"],
        peak_utc=det.get("peak_utc"),
        context_s=context_s,
        max_duration_s=max_duration_s,
    )
    return start, (end - start).total_seconds()


def front_end_params(reference: dict[str, Any]) -> dict[str, Any]:
    """The Raven columns of a model's front end, from its ``reference`` dict."""
    front_end = reference["front_end"]
    return {f"fe_{k}": front_end[k] for k in RAVEN_FRONT_END_KEYS if k in front_end}


def render_day(
    archive: Archive,
    dets: list[dict[str, Any]],
    directory: Path,
    *,
    context_s: float,
    max_duration_s: float,
) -> list[tuple[dict[str, Any], ReviewRender]]:
    """Render every detection of ``dets`` (rank order) into ``directory``."""
    out = []
    for det in dets:
        start, length = clip_span(det, context_s=context_s, max_duration_s=max_duration_s)
        clip = archive.load(start, length, on_fault="warn")
        name = review_clip_name(det["rank_in_day"], det["start_utc"])
        render = render_review(
            clip,
            {**det, "rank": det["rank_in_day"]},
            wav_path=directory / name,
            png_path=directory / Path(name).with_suffix(".png"),
            context_s=context_s,
            max_duration_s=max_duration_s,
        )
        out.append((det, render))
    return out


@dg.asset(
    partitions_def=daily_partitions,
    deps=[detections],
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    group_name="review",
    kinds={"duckdb", "wav"},
)
def review_clips(
    context: dg.AssetExecutionContext,
    config: ReviewClipsConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> dg.MaterializeResult:
    """WAV clips, spectrogram PNGs and a Raven selection table for each day's top detections."""
    layout, warehouse, archive = storage.layout(), storage.warehouse(), storage.archive()
    client = mlflow_resource.client()
    references: dict[int, dict] = {}
    per_day: dict[str, int] = {}
    shown: list[str] = []
    for day in partition_days(context):
        dets = warehouse.query(
            "SELECT * FROM detections WHERE day = ? AND rank_in_day <= ? ORDER BY rank_in_day",
            [day, config.top_k],
        ).to_pylist()
        directory = layout.review_day_dir(day)
        removed = clear_day_dir(directory)
        rendered = render_day(
            archive,
            dets,
            directory,
            context_s=config.context_s,
            max_duration_s=config.max_duration_s,
        )
        versions = sorted({int(d["model_version"]) for d in dets})
        for v in versions:
            if v not in references:
                references[v] = load_version(
                    client, mlflow_resource.registered_model_name, v, cache_dir=layout.models_dir
                ).reference
        raven = selections_path(layout, day)
        raven_selection_table(
            [selection_row({**d, "rank": d["rank_in_day"]}, r) for d, r in rendered],
            raven,
            front_end_params=front_end_params(references[versions[-1]]) if versions else {},
        )
        warehouse.replace_rows(
            "review_clips", _rows(day, rendered, raven), where="day = ?", params=[day]
        )
        context.log.info(f"{day}: {len(rendered)} clips ({removed} stale files removed)")
        per_day[str(day)] = len(rendered)
        shown += [
            thumbnail_markdown(r.thumbnail_b64, alt=d["detection_id"]) + f" {d['detection_id']} "
            f"({d['band']}, score {d['peak_score']:.3g})"
            for d, r in rendered[: config.thumbnails]
        ]
    return dg.MaterializeResult(
        metadata={
            "clips": sum(per_day.values()),
            "per_day": dg.MetadataValue.json(per_day),
            "review_dir": dg.MetadataValue.path(str(layout.review_dir)),
            "model_versions": dg.MetadataValue.json(sorted(references)),
            "top_clips": dg.MetadataValue.md(
                "\n\n".join(shown[: config.thumbnails]) or "no detections"
            ),
        }
    )


def _rows(
    day: dt.date, rendered: list[tuple[dict[str, Any], ReviewRender]], raven: Path
) -> pa.Table:
    if not rendered:
        return pa.table({"day": pa.array([], pa.date32())})
    return pa.Table.from_pylist(
        [
            {
                "day": day,
                "detection_id": d["detection_id"],
                "rank_in_day": d["rank_in_day"],
                "wav_path": str(r.wav_path),
                "png_path": str(r.png_path),
                "raven_path": str(raven),
                "clip_start_utc": r.clip_start_utc,
                "clip_end_utc": r.clip_start_utc + dt.timedelta(seconds=r.clip_duration_s),
                "model_version": d["model_version"],
            }
            for d, r in rendered
        ]
    )
