"""``detections``: consecutive anomalous scoring steps of a day merged into events.

An event starts at its first anomalous step (1 s by default) and ends at its last; steps closer
than ``max_gap_s`` are merged. Each event carries its peak (score and time), the band where its
spectrum rises most above the typical median, and the model version.
"""

import datetime as dt

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.anomaly_scores import anomaly_scores
from aco_assets.defs.day_reports import report_day
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.figures import status_strip_markdown
from aco_assets.scoring.protocol import EPISODE_GAP_S, episode_bounds
from aco_assets.signal.features import FrontEnd, FrontEndConfig, band_label
from aco_assets.storage.feature_store import load_day_features
from aco_assets.storage.model_registry import load_version


class DetectionsConfig(dg.Config):
    max_gap_s: float = EPISODE_GAP_S  # anomalous steps closer than this are one alarm


def detections_of_day(
    day: dt.date,
    scores: pa.Table,
    features: np.ndarray,
    front_end: FrontEnd,
    typical_median_db: np.ndarray,
    *,
    max_gap_s: float,
) -> pa.Table:
    """The ``detections`` rows of one day from its ``anomaly_scores`` rows (in step order)."""
    start = np.asarray(scores["step_start"].to_numpy(zero_copy_only=False)).astype("datetime64[us]")
    end = np.asarray(scores["step_end"].to_numpy(zero_copy_only=False)).astype("datetime64[us]")
    window_start = np.asarray(scores["window_start"].to_numpy(zero_copy_only=False)).astype(
        "datetime64[us]"
    )
    score = np.nan_to_num(
        np.asarray(scores["score"].to_numpy(zero_copy_only=False), float), nan=-np.inf
    )
    tail = np.asarray(scores["tail_prob"].to_numpy(zero_copy_only=False), float)
    flags = np.asarray(scores["is_anomaly"].to_numpy(zero_copy_only=False), bool)
    index = np.asarray(scores["window_index"].to_numpy(), np.int64)
    files, offsets = scores["file"].to_pylist(), scores["offset_s"].to_pylist()
    rows = []
    bounds = episode_bounds(
        start.astype(np.int64), end.astype(np.int64), flags, max_gap_s=max_gap_s
    )
    for first, last in bounds:
        span = np.arange(first, last + 1)
        span = span[flags[span]]
        peak = span[np.argmax(score[span])]
        windows = np.unique(index[span])
        deviation = np.asarray(features[windows], np.float32).mean(axis=0, keepdims=True)
        deviation -= typical_median_db[None, None, :, None]
        f_low, f_high = front_end.dominant_bands(deviation)[0]
        rows.append(
            {
                "start_utc": start[first].item(),
                "end_utc": end[last].item(),
                "peak_utc": start[peak].item(),
                "peak_score": float(score[peak]),
                "peak_tail_prob": float(tail[peak]),
                "n_steps": int(span.size),
                "band": band_label(f_low, f_high),
                "f_low_hz": float(f_low),
                "f_high_hz": float(f_high),
                "file": files[first],
                "offset_s": float(offsets[first])
                + float((start[first] - window_start[first]) / np.timedelta64(1, "s")),
            }
        )
    rows.sort(key=lambda r: -r["peak_score"])
    for rank, row in enumerate(rows, start=1):
        row.update(day=day, rank_in_day=rank, detection_id=f"{day:%Y%m%d}-{rank:04d}")
    return pa.Table.from_pylist(rows) if rows else pa.table({"day": pa.array([], pa.date32())})


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
    layout, warehouse = storage.layout(), storage.warehouse()
    client = mlflow_resource.client()
    models: dict[int, object] = {}
    for day in partition_days(context):
        scores = warehouse.query(
            "SELECT s.*, w.offset_s FROM anomaly_scores s JOIN windows w USING (day, window_index) "
            "WHERE s.day = ? ORDER BY s.step_start",
            [day],
        )
        table = pa.table({"day": pa.array([], pa.date32())})
        if scores.num_rows:
            version = int(scores["model_version"][0].as_py())
            if version not in models:
                models[version] = load_version(
                    client,
                    mlflow_resource.registered_model_name,
                    version,
                    cache_dir=layout.models_dir,
                )
            model = models[version]
            front_end = FrontEnd(FrontEndConfig.from_dict(model.reference["front_end"]))
            table = detections_of_day(
                day,
                scores,
                load_day_features(layout.features_path(day), cache_dir=layout.cache_dir),
                front_end,
                np.asarray(model.reference["typical_median_db"]),
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
