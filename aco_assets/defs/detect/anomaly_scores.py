"""``anomaly_scores``: every window of the day scored by the champion detector, one row per
scoring step (``TrainingSettings.score_step_s``, 1 s by default; rows:
:mod:`aco_assets.scoring.day_scores`).

The version that scores is the one the ``champion`` alias names when the run first asks
(:mod:`aco_assets.storage.scoring_context`: once per run, shared with ``detections``). The
dependency on ``detector`` follows that alias: the detector's data version is the champion's
version, so a retrained version that passes its check (and takes the alias) makes these scores
stale, and one that fails leaves them fresh. The version that scored a row is on the row.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import DayCheck, day_check_spec, day_results, pct, report_day, sig
from aco_assets.defs.ingest.spectrograms import SPECTROGRAMS
from aco_assets.defs.model.detector import detector
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.figures import (
    day_spectrogram,
    markdown_image,
    png_bytes,
    sparkline_markdown,
)
from aco_assets.reporting.thinning import thin_for_picture
from aco_assets.scoring.day_scores import check_front_end, day_windows, no_scores, score_windows
from aco_assets.signal.features import FrontEnd
from aco_assets.storage.feature_store import read_sidecar
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.model_registry import LoadedDetector
from aco_assets.storage.scoring_context import SCORING_CONTEXTS, ScoringContext
from aco_assets.storage.warehouse import Warehouse


class AnomalyScoresConfig(dg.Config):
    max_anomaly_rate: float = 0.25  # anomaly_rate_in_band warns above this share of steps


def score_day(
    run_id: str, warehouse: Warehouse, layout: DataLayout, model: LoadedDetector, day: dt.date
) -> tuple[pa.Table, ScoringContext | None]:
    """The ``anomaly_scores`` rows of one day (empty for a day without windows) and the day's
    scoring context (None without windows)."""
    windows = day_windows(warehouse, day)
    if windows.num_rows == 0:
        return no_scores(), None
    path = layout.features_path(day)
    check_front_end(read_sidecar(path), model.reference, features_path=path, day=day)
    ctx = SCORING_CONTEXTS.day(run_id, model, layout, day, expected_rows=windows.num_rows)
    table = score_windows(
        day, windows, ctx.features, model.detector, model.reference, model.version
    )
    return table, ctx


@dg.asset(
    partitions_def=daily_partitions,
    deps=[SPECTROGRAMS.key, detector],
    backfill_policy=day_backfill_policy,
    group_name="detect",
    kinds={"duckdb", "pytorch"},
    metadata={"scored_by": "the version the detector's 'champion' alias names (once per run)"},
    check_specs=[
        day_check_spec(
            "anomaly_rate_in_band",
            "anomaly_scores",
            "At most 25 % of the day's scoring steps are anomalous (WARN above; "
            "AnomalyScoresConfig.max_anomaly_rate): more means a miscalibrated threshold or a "
            "broken day. One result per UTC day.",
        )
    ],
)
def anomaly_scores(
    context: dg.AssetExecutionContext,
    config: AnomalyScoresConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> Iterator:
    """Score every window of each day with the version the ``champion`` alias names (resolved
    once per run: the detector's data version); one write per day."""
    layout, warehouse, run_id = storage.layout(), storage.warehouse(), context.run.run_id
    model = SCORING_CONTEXTS.champion(
        run_id,
        mlflow_resource.client(),
        mlflow_resource.registered_model_name,
        cache_dir=layout.models_dir,
    )
    context.log.info(f"scoring with model version {model.version} (the champion)")
    checks: dict[dt.date, DayCheck] = {}
    for day in partition_days(context):
        table, ctx = score_day(run_id, warehouse, layout, model, day)
        warehouse.replace_rows("anomaly_scores", table, where="day = ?", params=[day])
        report_day(context, day, day_metadata(ctx, model, day, table))
        checks[day] = anomaly_rate_in_band(day, table, config.max_anomaly_rate, model)
    yield from day_results(
        context,
        {"anomaly_rate_in_band": checks},
        data_version=dg.DataVersion(f"model-{model.version}"),
    )


def _counts(table: pa.Table) -> tuple[int, int, int]:
    """(scored steps, anomalous steps, quality-flagged steps) of a day's rows."""
    if not table.num_rows:
        return 0, 0, 0
    flags = np.asarray(table["is_anomaly"].to_numpy(zero_copy_only=False), bool)
    quality = np.asarray(table["quality_flag"].to_numpy(zero_copy_only=False), bool)
    return table.num_rows, int(flags.sum()), int(quality.sum())


def day_metadata(
    ctx: ScoringContext | None, model: LoadedDetector, day: dt.date, table: pa.Table
) -> dict:
    """The day's own counts (scoring steps, anomalous, rate in %), its score line and its
    picture."""
    n, anomalous, flagged = _counts(table)
    threshold = sig(float(model.detector.threshold))
    rate = pct(anomalous / n, digits=2) if n else 0.0
    metadata = {
        "summary": dg.MetadataValue.text(
            f"{day}: {anomalous} of {n} scoring steps anomalous ({rate} %), {flagged} flagged as data "
            f"faults; model version {model.version}, threshold {threshold:g}"
            if n
            else f"{day}: no windows to score (no spectrogram windows on this day)"
        ),
        "windows": n // model.detector.config.n_steps,
        "scoring_steps": n,
        "anomalous_steps": anomalous,
        "anomaly_rate_pct": rate,
        "quality_flagged_steps": flagged,
        "model_version": model.version,
        "threshold": threshold,
    }
    if n and ctx is not None:
        metadata["scores"] = dg.MetadataValue.md(_score_line(day, table, threshold))
        metadata["day_scores"] = dg.MetadataValue.md(_picture(ctx, day, table))
    return metadata


def _score_line(day: dt.date, table: pa.Table, threshold: float) -> str:
    """The highest score of each half hour of the day (00-24 UTC), the threshold in red."""
    starts = np.array(table["step_start"].to_pylist(), dtype="datetime64[s]")
    half_hour = ((starts - np.datetime64(day, "s")).astype(np.int64) // 1800).clip(0, 47)
    scores = np.asarray(table["score"].to_numpy(zero_copy_only=False), float)
    peaks = np.full(48, -np.inf)
    ok = np.isfinite(scores)
    np.maximum.at(peaks, half_hour[ok], scores[ok])
    peaks[~np.isfinite(peaks)] = np.nan
    return sparkline_markdown(
        peaks,
        threshold=threshold,
        alt=f"{day}: highest score per half hour, 00-24 UTC; red: threshold",
    )


def anomaly_rate_in_band(
    day: dt.date, table: pa.Table, max_rate: float, model: LoadedDetector
) -> DayCheck:
    """At most ``max_rate`` of the day's scoring steps are anomalous (WARN above)."""
    n, anomalous, _ = _counts(table)
    rate = anomalous / n if n else 0.0
    return DayCheck(
        n == 0 or rate <= max_rate,
        f"{day}: {anomalous} of {n} scoring steps anomalous ({pct(rate, digits=2)} %, at most "
        f"{pct(max_rate)} % wanted)"
        if n
        else f"{day}: no windows scored",
        {
            "anomaly_rate_pct": pct(rate, digits=2),
            "max_pct": pct(max_rate),
            "rho": sig(float(model.detector.rho)),
        },
    )


def _picture(ctx: ScoringContext, day: dt.date, table: pa.Table) -> str:
    model = ctx.model
    front_end = FrontEnd(model.reference.front_end)
    levels = np.asarray(ctx.features, dtype=np.float32).mean(axis=-1)[:, 0, :]  # (N, F)
    k = model.detector.config.n_steps  # rows are the windows' steps, in window order
    starts = np.array(table["window_start"].to_pylist(), dtype="datetime64[us]")[::k]
    steps = np.asarray(table["score"].to_numpy(zero_copy_only=False), dtype=float)
    with np.errstate(all="ignore"):
        scores = np.fmax.reduce(steps.reshape(-1, k), axis=1)  # the window's highest step
    starts, levels, scores = thin_for_picture(starts, levels, scores)
    fig = day_spectrogram(
        starts,
        levels,
        front_end.band_centers_hz,
        scores=scores,
        threshold=float(model.detector.threshold),
        title=f"{day}: band levels (dB) and scores, model v{model.version}",
    )
    return markdown_image(png_bytes(fig), f"scores {day}")
