"""``review_clips``: the day's top detections as WAV clips, spectrogram PNGs and a Raven table.

For the ``top_k`` detections of each day (by rank), the audio of the detection plus
``context_s`` on each side is loaded from the archive and rendered by
:func:`aco_assets.review.render.render_review` into ``<data>/review/YYYY-MM-DD/`` (clip names sort in
rank order), the day's Raven selection table ``YYYY-MM-DD.selections.txt`` is written against
those clips (the front-end parameters of the model version that scored them travel as
columns), and one ``review_clips`` row per clip is written in one transaction.

Reviewer work is never wiped, and a killed run never leaves rows pointing at removed files: each
run renders into a folder of its own, points the rows at it, then swings ``review/YYYY-MM-DD``
to it (:mod:`aco_assets.review.folders`). The folder it replaces is removed, unless its table
holds verdicts that are not in ``reviews`` yet: then it is kept whole as
``review/YYYY-MM-DD.reviewed-<when>/`` and the log says how to import it. Paths in the rows are
relative to the data directory, and ``Begin Path`` in the table to the table's folder.
With the store on object storage, each published day is also copied to
``<store>/review/YYYY-MM-DD/`` (:mod:`aco_assets.storage.review_store`).
"""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from aco_assets.defs.day_reports import report_day
from aco_assets.defs.detections import detections
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.hydrophone import Archive
from aco_assets.review.folders import (
    current_dir,
    new_version_dir,
    publish,
    remove_leftovers,
    retire,
)
from aco_assets.review.render import (
    ReviewRender,
    VerdictError,
    raven_selection_table,
    read_verdicts,
    render_review,
    review_clip_name,
    review_span,
    selection_row,
    thumbnail_markdown,
)
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.model_registry import load_version
from aco_assets.storage.review_store import upload_folder
from aco_assets.storage.warehouse import Warehouse

#: Front-end settings written as columns of the Raven table (prefixed ``fe_``).
RAVEN_FRONT_END_KEYS: tuple[str, ...] = (
    "sample_rate_hz", "window_s", "n_bands", "f_min_hz", "f_max_hz", "nfft", "hop_samples",
)  # fmt: skip
#: Largest Begin UTC difference between a verdict and its imported ``reviews`` row, s.
MATCH_TOLERANCE_S = 0.5


class ReviewClipsConfig(dg.Config):
    top_k: int = 10  # detections rendered per day, best ranks first
    context_s: float = 2.0  # audio kept before and after each detection, s
    max_duration_s: float = 120.0  # longest clip; longer detections are cut around their peak
    thumbnails: int = 5  # clips shown as pictures in the materialization metadata


def selections_path(layout: DataLayout, day: dt.date) -> Path:
    """The day's Raven selection table, beside its clips (through the day's link)."""
    return layout.review_day_dir(day) / table_name(day)


def table_name(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}.selections.txt"


def unimported_verdicts(warehouse: Warehouse, table: Path) -> str | None:
    """Why ``table`` holds reviewer work not in ``reviews`` yet, or None when it holds none.

    A verdict counts as imported when a ``reviews`` row has the same detection (by
    ``detection_id`` and start, or by start alone) and the same verdict and class.
    """
    if not table.is_file():
        return None
    try:
        verdicts = read_verdicts(table)
    except VerdictError as e:  # a reviewer is part-way through: keep it, do not judge it
        return f"its verdicts do not read ({e})"
    if not verdicts:
        return None
    reviews = warehouse.query(
        "SELECT detection_id, begin_utc, verdict, coalesce(class_name, '') AS class_name "
        "FROM reviews"
    ).to_pylist()
    pending = [v for v in verdicts if not any(_same(v, r) for r in reviews)]
    if not pending:
        return None
    return f"{len(pending)} of its {len(verdicts)} verdict(s) are not imported"


def _same(v: Any, r: dict[str, Any]) -> bool:
    if (v.verdict, v.class_name or "") != (r["verdict"], r["class_name"]):
        return False
    if v.detection_id is not None and v.detection_id != r["detection_id"]:
        return False
    if v.begin_utc is None or r["begin_utc"] is None:
        return v.detection_id is not None
    return abs((v.begin_utc - r["begin_utc"]).total_seconds()) <= MATCH_TOLERANCE_S


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
    backfill_policy=day_backfill_policy,
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
    for day in partition_days(context):
        dets = warehouse.query(
            "SELECT * FROM detections WHERE day = ? AND rank_in_day <= ? ORDER BY rank_in_day",
            [day, config.top_k],
        ).to_pylist()
        old = current_dir(layout.review_dir, day)
        leftovers = remove_leftovers(layout.review_dir, day, keep={old} if old else set())
        directory = new_version_dir(layout.review_dir, day)
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
        raven = directory / table_name(day)
        raven_selection_table(
            [selection_row({**d, "rank": d["rank_in_day"]}, r) for d, r in rendered],
            raven,
            front_end_params=front_end_params(references[versions[-1]]) if versions else {},
        )
        pending = unimported_verdicts(warehouse, old / table_name(day)) if old else None
        warehouse.replace_rows(
            "review_clips",
            _rows(day, rendered, raven, layout.data_dir),
            where="day = ?",
            params=[day],
        )
        old = publish(layout.review_dir, day, directory) or old  # an unversioned folder moves
        kept = retire(layout.review_dir, day, old, keep=pending is not None) if old else None
        if layout.store_is_remote:  # a copy of what was published, for a store on S3
            for folder in [directory] + ([kept] if kept is not None else []):
                name = f"{day:%Y-%m-%d}" if folder == directory else folder.name
                upload_folder(folder, layout.review_store_dir / name)
        if kept is not None:
            context.log.warning(
                f"{day}: the earlier Raven table holds reviewer work ({pending}); kept it with "
                f"its clips as {kept / table_name(day)} beside the new one: import it with "
                f"`aco review import {kept / table_name(day)}`"
            )
        context.log.info(
            f"{day}: {len(rendered)} clips in {selections_path(layout, day)}"
            + (f" ({leftovers} folder(s) of interrupted runs removed)" if leftovers else "")
        )
        report_day(
            context,
            day,
            day_metadata(
                day,
                rendered,
                Path(layout.relative(selections_path(layout, day))),
                Path(layout.relative(kept)) if kept is not None else None,
                config.thumbnails,
            ),
        )
    return dg.MaterializeResult()


def day_metadata(
    day: dt.date,
    rendered: list[tuple[dict[str, Any], ReviewRender]],
    raven: Path,
    kept: Path | None,
    thumbnails: int,
) -> dict[str, Any]:
    """The day's own clips: how many, its best ones as pictures (rank = peak score order)."""
    shown = [
        thumbnail_markdown(r.thumbnail_b64, alt=d["detection_id"]) + f" {d['detection_id']} "
        f"({d['start_utc']:%H:%M:%S} UTC, {d['band']}, peak score {d['peak_score']:.3g})"
        for d, r in rendered[:thumbnails]
    ]
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(
            f"{day}: {len(rendered)} review clips (WAV + spectrogram) and a Raven table"
            if rendered
            else f"{day}: no detections, no clips"
        ),
        "clips": len(rendered),
        "top_clips": dg.MetadataValue.md("\n\n".join(shown) or f"{day}: no detections"),
        "raven_table": dg.MetadataValue.path(str(raven)),
        "model_versions": dg.MetadataValue.text(
            ", ".join(str(v) for v in sorted({int(d["model_version"]) for d, _ in rendered}))
            or "none"
        ),
    }
    if kept is not None:
        metadata["kept_reviewed_table"] = dg.MetadataValue.path(str(kept / table_name(day)))
    return metadata


def _rows(
    day: dt.date,
    rendered: list[tuple[dict[str, Any], ReviewRender]],
    raven: Path,
    data_dir: Path,
) -> pa.Table:
    """The day's ``review_clips`` rows; paths relative to the data directory."""
    if not rendered:
        return pa.table({"day": pa.array([], pa.date32())})

    def rel(p: Path) -> str:
        return Path(p).relative_to(data_dir).as_posix()

    return pa.Table.from_pylist(
        [
            {
                "day": day,
                "detection_id": d["detection_id"],
                "rank_in_day": d["rank_in_day"],
                "wav_path": rel(r.wav_path),
                "png_path": rel(r.png_path),
                "raven_path": rel(raven),
                "clip_start_utc": r.clip_start_utc,
                "clip_end_utc": r.clip_start_utc + dt.timedelta(seconds=r.clip_duration_s),
                "model_version": d["model_version"],
            }
            for d, r in rendered
        ]
    )
