"""``anomaly_scores``: every window of the day scored by the champion detector, one row per
scoring step (``DetectorTrainingConfig.score_step_s``, 1 s by default).

The model version that scored a row is on the row. Windows with too many missing samples
keep a row with NULL scores; windows overlapping a data-quality issue (gap, dropout, clipping,
DC step, timing jump) keep their score but are flagged and never counted as acoustic anomalies,
so faults do not fill the review queue.
"""

import datetime as dt
import json
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.day_reports import DayCheck, day_check_spec, day_results, pct, report_day, sig
from aco_assets.defs.detector import detector, step_spans
from aco_assets.defs.partitions import daily_partitions, day_backfill_policy, partition_days
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.defs.spectrograms import spectrograms, thin_for_picture
from aco_assets.reporting.figures import (
    day_spectrogram,
    markdown_image,
    png_bytes,
    sparkline_markdown,
)
from aco_assets.scoring.evaluation import energy_detector_scores
from aco_assets.scoring.protocol import utc_micros
from aco_assets.signal.features import FrontEnd, FrontEndConfig
from aco_assets.signal.processing import LEVEL_COLUMNS
from aco_assets.storage.feature_store import load_day_features
from aco_assets.storage.model_registry import LoadedDetector, load_champion
from aco_assets.storage.warehouse import Warehouse


class AnomalyScoresConfig(dg.Config):
    max_anomaly_rate: float = 0.25  # anomaly_rate_in_band warns above this share of steps


def score_day(
    warehouse: Warehouse, features_path, model: LoadedDetector, day: dt.date, *, cache_dir=None
) -> pa.Table:
    """The ``anomaly_scores`` rows of one day (empty table for a day without windows);
    ``cache_dir`` holds local copies of feature arrays on object storage."""
    windows = warehouse.query(
        f"""SELECT w.window_index, w.window_start, w.window_end, w.file, w.valid,
                   {", ".join("w." + c for c in LEVEL_COLUMNS)},
                   EXISTS (SELECT 1 FROM quality_issues q WHERE q.day = w.day AND q.file = w.file
                           AND q.start_utc < w.window_end AND q.end_utc > w.window_start) AS quality_flag
            FROM windows w WHERE w.day = ? ORDER BY w.window_index""",
        [day],
    )
    n = windows.num_rows
    if n == 0:
        return pa.table({"day": pa.array([], pa.date32())})
    expected = FrontEndConfig.from_dict(model.reference["front_end"])
    sidecar = json.loads(features_path.with_suffix(".json").read_text())["front_end"]
    if FrontEndConfig.from_dict(sidecar) != expected:
        raise ValueError(
            f"{features_path} was computed with another front end than model version "
            f"{model.version}: re-materialize spectrograms for {day} or retrain"
        )
    features = load_day_features(features_path, expected_rows=n, cache_dir=cache_dir)
    valid = np.asarray(windows["valid"].to_numpy(zero_copy_only=False), dtype=bool)
    k = model.detector.config.n_steps
    cols = {
        c: np.full((n, k), np.nan)
        for c in ("score", "tail_prob", "latent_nll", "np_error", "recon_error", "combined")
    }
    is_anomaly = np.zeros((n, k), dtype=bool)
    if valid.any():
        s = model.detector.score_steps(np.asarray(features[valid], dtype=np.float32))
        for key, values in (
            ("score", s.score),
            ("tail_prob", s.tail_prob),
            ("latent_nll", s.gmm_nll),
            ("np_error", s.np_error),
            ("recon_error", s.recon_error),
            ("combined", s.combined),
        ):
            cols[key][valid] = values
        is_anomaly[valid] = s.is_anomaly
    quality = (
        np.asarray(windows["quality_flag"].to_numpy(zero_copy_only=False), dtype=bool) | ~valid
    )
    levels = {
        c: np.asarray(windows[c].to_numpy(zero_copy_only=False), dtype=float) for c in LEVEL_COLUMNS
    }
    reference = model.reference.get("typical_levels_db")
    energy = energy_detector_scores(levels, reference=reference).score
    step_start, step_end = step_spans(windows, k)
    rep = lambda column: np.repeat(np.asarray(column), k)  # noqa: E731  one value per step
    return pa.table(
        {
            "day": [day] * (n * k),
            "window_index": rep(windows["window_index"].to_numpy()),
            "step": np.tile(np.arange(k, dtype=np.int32), n),
            "step_start": pa.array(step_start.astype("datetime64[us]")),
            "step_end": pa.array(step_end.astype("datetime64[us]")),
            "window_start": pa.array(
                rep(utc_micros(windows["window_start"])).astype("datetime64[us]")
            ),
            "window_end": pa.array(rep(utc_micros(windows["window_end"])).astype("datetime64[us]")),
            "file": rep(windows["file"].to_pylist()),
            **{c: pa.array(v.ravel(), from_pandas=True) for c, v in cols.items()},
            "is_anomaly": (is_anomaly & ~quality[:, None]).ravel(),
            "energy_score": pa.array(rep(energy), from_pandas=True),
            "quality_flag": rep(quality),
            "model_version": [model.version] * (n * k),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[spectrograms, detector],
    backfill_policy=day_backfill_policy,
    group_name="detect",
    kinds={"duckdb", "pytorch"},
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
    """Score every window of each day with the champion model; one transaction per day."""
    layout, warehouse = storage.layout(), storage.warehouse()
    model = load_champion(
        mlflow_resource.client(), mlflow_resource.registered_model_name, cache_dir=layout.models_dir
    )
    context.log.info(f"scoring with model version {model.version}")
    checks: dict[dt.date, DayCheck] = {}
    for day in partition_days(context):
        table = score_day(
            warehouse, layout.features_path(day), model, day, cache_dir=layout.cache_dir
        )
        warehouse.replace_rows("anomaly_scores", table, where="day = ?", params=[day])
        report_day(context, day, day_metadata(layout, model, day, table))
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


def day_metadata(layout, model: LoadedDetector, day: dt.date, table: pa.Table) -> dict:
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
    if n:
        metadata["scores"] = dg.MetadataValue.md(_score_line(day, table, threshold))
        metadata["day_scores"] = dg.MetadataValue.md(_picture(layout, model, day, table))
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


def _picture(layout, model: LoadedDetector, day: dt.date, table: pa.Table) -> str:
    front_end = FrontEnd(FrontEndConfig.from_dict(model.reference["front_end"]))
    features = load_day_features(layout.features_path(day), cache_dir=layout.cache_dir)
    levels = np.asarray(features, dtype=np.float32).mean(axis=-1)[:, 0, :]  # (N, F)
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
