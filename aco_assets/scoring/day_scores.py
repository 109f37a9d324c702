"""The rows of ``anomaly_scores``: every window of a day scored, one row per scoring step.

The model version that scored a row is on the row, with the window's place in its archive file
(``file``, ``offset_s``), so ``detections`` needs no other table. Windows with too many missing
samples keep a row with NULL scores; windows overlapping a data-quality issue (gap, dropout,
clipping, DC step, timing jump) keep their score but are flagged and never counted as acoustic
anomalies, so faults do not fill the review queue.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from aco_assets.scoring.baselines import energy_detector_scores
from aco_assets.scoring.protocol import utc_micros
from aco_assets.scoring.reference import DetectorReference
from aco_assets.scoring.training_data import step_spans
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig

if TYPE_CHECKING:
    from aco_assets.storage.warehouse import Warehouse
    from ml import FittedDetector

__all__ = ["SCORE_COLUMNS", "check_front_end", "day_windows", "no_scores", "score_windows"]

#: The model's per-step scores kept on each row (NULL where a window is not valid).
SCORE_COLUMNS = ("score", "tail_prob", "latent_nll", "np_error", "recon_error", "combined")


def no_scores() -> pa.Table:
    """The rows of a day without windows."""
    return pa.table({"day": pa.array([], pa.date32())})


def day_windows(warehouse: Warehouse, day: dt.date) -> pa.Table:
    """The day's windows in index order, with ``quality_flag`` (overlaps a quality issue)."""
    return warehouse.query(
        f"""SELECT w.window_index, w.window_start, w.window_end, w.file, w.offset_s, w.valid,
                   {", ".join("w." + c for c in LEVEL_COLUMNS)},
                   EXISTS (SELECT 1 FROM quality_issues q WHERE q.day = w.day AND q.file = w.file
                           AND q.start_utc < w.window_end AND q.end_utc > w.window_start) AS quality_flag
            FROM windows w WHERE w.day = ? ORDER BY w.window_index""",
        [day],
    )


def check_front_end(
    sidecar: dict[str, Any], reference: DetectorReference, *, features_path: Any, day: dt.date
) -> None:
    """Raise when the day's features were computed with another front end than the model's."""
    if FrontEndConfig.from_dict(sidecar["front_end"]) != reference.front_end:
        raise ValueError(
            f"{features_path} was computed with another front end than model version "
            f"{reference.model_version}: re-materialize spectrograms for {day} or retrain"
        )


def score_windows(
    day: dt.date,
    windows: pa.Table,
    features: np.ndarray,
    detector: FittedDetector,
    reference: DetectorReference,
    version: int,
) -> pa.Table:
    """The ``anomaly_scores`` rows of the day's ``windows`` (:func:`day_windows`) and its
    features (N, 1, F, T), row = window_index."""
    n = windows.num_rows
    if n == 0:
        return no_scores()
    valid = np.asarray(windows["valid"].to_numpy(zero_copy_only=False), dtype=bool)
    k = detector.config.n_steps
    cols = {c: np.full((n, k), np.nan) for c in SCORE_COLUMNS}
    is_anomaly = np.zeros((n, k), dtype=bool)
    if valid.any():
        s = detector.score_steps(np.asarray(features[valid], dtype=np.float32))
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
    energy = energy_detector_scores(levels, reference=reference.levels_db() or None).score
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
            "offset_s": rep(windows["offset_s"].to_numpy(zero_copy_only=False).astype(float)),
            **{c: pa.array(v.ravel(), from_pandas=True) for c, v in cols.items()},
            "is_anomaly": (is_anomaly & ~quality[:, None]).ravel(),
            "energy_score": pa.array(rep(energy), from_pandas=True),
            "quality_flag": rep(quality),
            "model_version": [version] * (n * k),
        }
    )
