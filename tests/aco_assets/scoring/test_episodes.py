"""Detections from a day's scored steps, without Dagster: merging, peak, band and file offset."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from aco_assets.scoring.episodes import detections_of_day, no_detections
from aco_assets.signal.features import FrontEnd, FrontEndConfig

DAY = dt.date(2016, 1, 1)
FRONT_END = FrontEnd(FrontEndConfig())


def _scores(flags: list[bool], scores: list[float], *, offsets=(0.0, 5.0, 10.0)) -> pa.Table:
    """Three 5 s windows of five 1 s steps each (offsets: the windows' starts in their file)."""
    t0 = dt.datetime(2016, 1, 1, 1)
    n = len(flags)
    window = np.arange(n) // 5
    start = [t0 + dt.timedelta(seconds=i) for i in range(n)]
    return pa.table(
        {
            "window_index": window,
            "step_start": pa.array(start, pa.timestamp("us")),
            "step_end": pa.array([s + dt.timedelta(seconds=1) for s in start], pa.timestamp("us")),
            "window_start": pa.array([t0 + dt.timedelta(seconds=5 * int(w)) for w in window],
                                     pa.timestamp("us")),
            "score": scores,
            "tail_prob": [0.5] * n,
            "is_anomaly": flags,
            "file": ["a.HYD24BBpk"] * n,
            "offset_s": [offsets[w] for w in window],
        }
    )  # fmt: skip


def _features(band: int) -> np.ndarray:
    """(3, 1, F, T) features with one band raised in every window."""
    _, n_bands, n_frames = FRONT_END.feature_shape
    x = np.zeros((3, 1, n_bands, n_frames), np.float32)
    x[:, 0, band] = 20.0
    return x


def test_close_anomalous_steps_merge_into_one_event_ranked_by_peak():
    flags = [False, True, True, False, False] + [False] * 5 + [False, False, False, True, True]
    scores = [0.0, 2.0, 3.0, 0.0, 0.0] + [0.0] * 5 + [0.0, 0.0, 0.0, 5.0, 1.0]
    median = np.zeros(FRONT_END.feature_shape[1])
    table = detections_of_day(
        DAY, _scores(flags, scores), _features(3), FRONT_END, median, max_gap_s=2.0
    )
    rows = table.to_pylist()
    assert [r["n_steps"] for r in rows] == [2, 2]  # 8 s apart: two events
    top, second = rows
    assert top["peak_score"] == 5.0 and top["detection_id"] == "20160101-0001"
    assert top["offset_s"] == pytest.approx(10.0 + 3.0)  # window offset + step within it
    assert second["offset_s"] == pytest.approx(0.0 + 1.0)
    assert second["start_utc"] == dt.datetime(2016, 1, 1, 1, 0, 1)
    assert second["end_utc"] == dt.datetime(2016, 1, 1, 1, 0, 3)
    low, high = FRONT_END.dominant_bands(_features(3)[:1])[0]
    assert (top["f_low_hz"], top["f_high_hz"]) == (low, high)


def test_a_day_without_anomalous_steps_has_no_detections():
    table = detections_of_day(
        DAY, _scores([False] * 15, [0.0] * 15), _features(0), FRONT_END,
        np.zeros(FRONT_END.feature_shape[1]), max_gap_s=2.0,
    )  # fmt: skip
    assert table.num_rows == 0 and table.schema == no_detections().schema


def test_rows_scored_without_offsets_ask_for_a_rescore():
    flags = [True] + [False] * 14
    scores = _scores(flags, [1.0] + [0.0] * 14, offsets=(None, None, None))
    with pytest.raises(ValueError, match="re-materialize anomaly_scores for 2016-01-01"):
        detections_of_day(
            DAY, scores, _features(0), FRONT_END, np.zeros(FRONT_END.feature_shape[1]),
            max_gap_s=2.0,
        )  # fmt: skip
