"""``detections``: consecutive anomalous scoring steps of a day merged into events.

An event starts at its first anomalous step (1 s by default) and ends at its last; steps closer
than ``max_gap_s`` are merged (:mod:`aco_assets.scoring.episodes`). Each event carries its peak
(score and time), the band where its spectrum rises most above the typical median, and the
model version that scored its steps (loaded once per run: :mod:`aco_assets.storage.scoring_context`).
"""

import datetime as dt

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import report_day
from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.figures import status_strip_markdown
from aco_assets.scoring.episodes import detections_of_day, no_detections
from aco_assets.scoring.protocol import EPISODE_GAP_S
from aco_assets.signal.features import FrontEnd
from aco_assets.storage.scoring_context import SCORING_CONTEXTS


class DetectionsConfig(dg.Config):
    max_gap_s: float = EPISODE_GAP_S  # anomalous steps closer than this are one alarm


@dg.asset(
    partitions_def=daily_partitions,
    deps=[anomaly_scores],
    backfill_policy=day_backfill_policy,
    group_name="detect",
    kinds={"duckdb"},
)
def detections(
    context: dg.AssetExecutionContext,
    config: DetectionsConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> dg.MaterializeResult:
    """Events of each day, ranked by peak score, with their dominant band and model version."""
    layout, warehouse, run_id = storage.layout(), storage.warehouse(), context.run.run_id
    client = mlflow_resource.client()
    for day in partition_days(context):
        scores = warehouse.query(
            "SELECT * FROM anomaly_scores WHERE day = ? ORDER BY step_start", [day]
        )
        table = no_detections()
        if scores.num_rows:
            version = int(scores["model_version"][0].as_py())
            model = SCORING_CONTEXTS.model(
                run_id, client, mlflow_resource.registered_model_name, version,
                cache_dir=layout.models_dir,
            )  # fmt: skip
            ctx = SCORING_CONTEXTS.day(run_id, model, layout, day)
            table = detections_of_day(
                day,
                scores,
                ctx.features,
                FrontEnd(model.reference.front_end),
                model.reference.median_db,
                max_gap_s=config.max_gap_s,
            )
            if table.num_rows:
                table = table.append_column(
                    "model_version", pa.array([version] * table.num_rows, pa.int32())
                )
        warehouse.replace_rows("detections", table, where="day = ?", params=[day])
        report_day(context, day, day_metadata(day, table.to_pylist() if table.num_rows else []))
    return dg.MaterializeResult()


def day_metadata(day: dt.date, rows: list[dict]) -> dict:
    """The day's own alarms: how many, how long, when (a timeline drawn inline), the top ten."""
    minutes = sum((r["end_utc"] - r["start_utc"]).total_seconds() for r in rows) / 60
    versions = sorted({int(r["model_version"]) for r in rows})
    if rows:
        best = rows[0]
        summary = (
            f"{day}: {len(rows)} detections, {minutes:.1f} min in all; top {best['detection_id']} "
            f"at {best['start_utc']:%H:%M:%S} UTC, {best['band']}, peak score {best['peak_score']:.3g}"
        )
    else:
        summary = f"{day}: no detections"
    metadata = {
        "summary": dg.MetadataValue.text(summary),
        "detections": len(rows),
        "detection_min": round(minutes, 2),
        "model_versions": dg.MetadataValue.text(", ".join(map(str, versions)) or "none"),
    }
    if rows:
        metadata["timeline"] = dg.MetadataValue.md(_timeline(day, rows))
        metadata["top"] = dg.MetadataValue.md(_top_md(rows[:10]))
    return metadata


def _timeline(day: dt.date, rows: list[dict]) -> str:
    """The day's minutes (00-24 UTC), red where a detection runs."""
    codes = np.zeros(1440, np.int64)
    midnight = dt.datetime.combine(day, dt.time())
    for r in rows:
        first = int((r["start_utc"] - midnight).total_seconds() // 60)
        last = int((r["end_utc"] - midnight).total_seconds() // 60)
        codes[max(first, 0) : min(last, 1439) + 1] = 1
    return status_strip_markdown(
        codes, ("#eeeeee", "#d62728"), alt=f"detections of {day}, 00-24 UTC (red)"
    )


def _top_md(rows: list[dict]) -> str:
    lines = [
        "| detection | start (UTC) | s | band | peak score | tail prob |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        length = (r["end_utc"] - r["start_utc"]).total_seconds()
        lines.append(
            f"| {r['detection_id']} | {r['start_utc']:%Y-%m-%d %H:%M:%S} | {length:.0f} | "
            f"{r['band']} | {r['peak_score']:.3g} | {r['peak_tail_prob']:.3g} |"
        )
    return "\n".join(lines)
