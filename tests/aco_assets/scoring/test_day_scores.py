"""A day's ``anomaly_scores`` rows from its windows and features, without Dagster or a registry."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from aco_assets.scoring.day_scores import check_front_end, score_windows
from aco_assets.scoring.reference import DetectorReference
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig

DAY = dt.date(2016, 1, 1)
K = 5


class _Detector:
    """Scores each step by its window's feature mean plus the step number; anomalous above 2."""

    config = SimpleNamespace(n_steps=K)

    def score_steps(self, x: np.ndarray):
        score = x.reshape(len(x), -1).mean(axis=1)[:, None] + np.arange(K)[None, :]
        return SimpleNamespace(
            score=score, tail_prob=1 / (1 + score), gmm_nll=score, np_error=score,
            recon_error=score, combined=score, is_anomaly=score > 2,
        )  # fmt: skip


def _windows(valid, quality) -> pa.Table:
    n = len(valid)
    t0 = dt.datetime(2016, 1, 1, 3)
    starts = [t0 + dt.timedelta(seconds=5 * i) for i in range(n)]
    return pa.table(
        {
            "window_index": np.arange(n, dtype=np.int32),
            "window_start": pa.array(starts, pa.timestamp("us")),
            "window_end": pa.array([s + dt.timedelta(seconds=5) for s in starts], pa.timestamp("us")),
            "file": ["a.HYD24BBpk"] * n,
            "offset_s": np.arange(n) * 5.0 + 100.0,
            "valid": valid,
            **{c: np.full(n, 80.0) for c in LEVEL_COLUMNS},
            "quality_flag": quality,
        }
    )  # fmt: skip


REFERENCE = DetectorReference(
    front_end=FrontEndConfig(), typical_levels_db={c: (80.0,) for c in LEVEL_COLUMNS}
)


def test_every_step_of_every_window_gets_a_row_with_its_file_offset_and_version():
    features = np.stack([np.full((1, 2, 2), v, np.float32) for v in (0.0, 1.0, 0.0)])
    table = score_windows(
        DAY, _windows([True, True, False], [False, True, False]), features, _Detector(),
        REFERENCE, 7,
    )  # fmt: skip
    assert table.num_rows == 3 * K
    rows = table.to_pylist()
    assert [r["step"] for r in rows[:K]] == list(range(K))
    assert {r["offset_s"] for r in rows[K : 2 * K]} == {105.0}
    assert {r["model_version"] for r in rows} == {7}
    assert rows[0]["step_end"] - rows[0]["step_start"] == dt.timedelta(seconds=1)
    # window 0: steps 3, 4 score above 2; window 1 scores higher but overlaps a quality issue
    assert [r["is_anomaly"] for r in rows[:K]] == [False, False, False, True, True]
    assert not any(r["is_anomaly"] for r in rows[K:])
    assert all(r["quality_flag"] for r in rows[K:])  # flagged, or not valid
    assert all(r["score"] is None for r in rows[2 * K :])  # the invalid window is not scored
    assert rows[K]["score"] == pytest.approx(1.0)


def test_features_of_another_front_end_are_refused_naming_the_day():
    other = {"front_end": {**FrontEndConfig().to_dict(), "window_s": 10.0}}
    with pytest.raises(ValueError, match="another front end.*2016-01-01"):
        check_front_end(other, REFERENCE, features_path="f.npy", day=DAY)
    check_front_end(
        {"front_end": FrontEndConfig().to_dict()}, REFERENCE, features_path="f", day=DAY
    )
