"""``review_clips``: the day's top detections as WAV clips, spectrogram PNGs and a Raven table.

For the ``top_k`` detections of each day (by rank), the audio of the detection plus
``context_s`` on each side is loaded from the archive and rendered
(:mod:`aco_assets.review.review_day`) into ``<data>/review/YYYY-MM-DD/`` (clip names sort in
rank order), the day's Raven selection table ``YYYY-MM-DD.selections.txt`` is written against
those clips (the front-end parameters of the model version that scored them travel as
columns), and one ``review_clips`` row per clip is written in one transaction.

Reviewer work is never wiped, and a killed run never leaves rows pointing at removed files
(:mod:`aco_assets.storage.review_publish`): an earlier table holding verdicts that are not in
``reviews`` yet is kept whole as ``review/YYYY-MM-DD.reviewed-<when>/`` and the log says how to
import it. With the store on object storage, each published day is also copied to
``<store>/review/YYYY-MM-DD/``.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from aco_assets.defs.day_reports import report_day
from aco_assets.defs.detect.detections import detections
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.review.render import thumbnail_markdown
from aco_assets.review.review_day import clip_span, front_end_params, table_name
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.model_registry import load_version
from aco_assets.storage.review_publish import PublishedDay, publish_review_day, selections_path

__all__ = ["ReviewClipsConfig", "clip_span", "day_metadata", "review_clips", "selections_path"]


class ReviewClipsConfig(dg.Config):
    top_k: int = 10  # detections rendered per day, best ranks first
    context_s: float = 2.0  # audio kept before and after each detection, s
    max_duration_s: float = 120.0  # longest clip; longer detections are cut around their peak
    thumbnails: int = 5  # clips shown as pictures in the materialization metadata
    workers: int = 2  # processes rendering clips in parallel


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

    def front_end(version: int) -> dict[str, Any]:
        if version not in references:
            references[version] = load_version(
                client, mlflow_resource.registered_model_name, version, cache_dir=layout.models_dir
            ).reference.to_dict()
        return front_end_params(references[version])

    for day in partition_days(context):
        published = publish_review_day(
            layout, warehouse, archive, day, top_k=config.top_k, context_s=config.context_s,
            max_duration_s=config.max_duration_s, front_end=front_end, workers=config.workers,
        )  # fmt: skip
        if published.kept_table is not None:
            context.log.warning(
                f"{day}: the earlier Raven table holds reviewer work ({published.pending}); kept "
                f"it with its clips as {published.kept_table} beside the new one: import it "
                f"with `aco review import {published.kept_table}`"
            )
        context.log.info(
            f"{day}: {len(published.rendered)} clips in {published.table}"
            + (f" ({published.leftovers} folder(s) of interrupted runs removed)"
               if published.leftovers else "")
        )  # fmt: skip
        report_day(context, day, day_metadata(published, layout, config.thumbnails))
    return dg.MaterializeResult()


def day_metadata(published: PublishedDay, layout: DataLayout, thumbnails: int) -> dict[str, Any]:
    """The day's own clips: how many, its best ones as pictures (rank = peak score order)."""
    day, rendered = published.day, published.rendered
    shown = [
        thumbnail_markdown(c.render.thumbnail_b64, alt=d["detection_id"])
        + f" {d['detection_id']} ({d['start_utc']:%H:%M:%S} UTC, {d['band']}, "
        f"peak score {d['peak_score']:.3g})"
        for c in rendered[:thumbnails]
        for d in [c.detection]
    ]
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(
            f"{day}: {len(rendered)} review clips (WAV + spectrogram) and a Raven table"
            if rendered
            else f"{day}: no detections, no clips"
        ),
        "clips": len(rendered),
        "top_clips": dg.MetadataValue.md("\n\n".join(shown) or f"{day}: no detections"),
        "raven_table": dg.MetadataValue.path(str(Path(layout.relative(published.table)))),
        "model_versions": dg.MetadataValue.text(
            ", ".join(str(v) for v in published.model_versions) or "none"
        ),
    }
    if published.kept is not None:
        kept = Path(layout.relative(published.kept))
        metadata["kept_reviewed_table"] = dg.MetadataValue.path(str(kept / table_name(day)))
    return metadata
