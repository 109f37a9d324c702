"""Anomalous scoring steps of a day merged into events: the rows of ``detections``.

An event starts at its first anomalous step (1 s by default) and ends at its last; steps closer
than ``max_gap_s`` are merged (:func:`aco_assets.scoring.protocol.episode_bounds`). Each event
carries its peak (score and time), the band where its spectrum rises most above the typical
median, and where it starts in its archive file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from aco_assets.scoring.protocol import episode_bounds
from aco_assets.signal.features import FrontEnd, band_label

__all__ = ["detections_of_day", "no_detections"]


def no_detections() -> pa.Table:
    """The rows of a day without detections."""
    return pa.table({"day": pa.array([], pa.date32())})


def detections_of_day(
    day: dt.date,
    scores: pa.Table,
    features: np.ndarray,
    front_end: FrontEnd,
    typical_median_db: np.ndarray,
    *,
    max_gap_s: float,
) -> pa.Table:
    """The ``detections`` rows of one day from its ``anomaly_scores`` rows (in step order).

    ``scores`` needs ``step_start, step_end, window_start, window_index, score, tail_prob,
    is_anomaly, file, offset_s``; ``features`` is the day's array (N, 1, F, T), row = window_index.

    Raises
    ------
    ValueError
        When an anomalous row has no ``offset_s`` (rows scored before ``anomaly_scores`` kept it).
    """
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
    if any(offsets[i] is None for i in np.flatnonzero(flags)):
        raise ValueError(
            f"anomaly_scores of {day} have no offset_s (scored by an older version of the "
            f"pipeline): re-materialize anomaly_scores for {day}"
        )
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
    return pa.Table.from_pylist(rows) if rows else no_detections()
