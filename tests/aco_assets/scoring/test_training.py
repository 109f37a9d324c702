"""Training without Dagster or MLflow: the split of the warehouse rows and the trained outcome."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from aco_assets.scoring.protocol import TimeSplit
from aco_assets.scoring.reference import DetectorReference
from aco_assets.scoring.training import TrainingFeatures, fit_and_check
from aco_assets.scoring.training_data import TrainingRows, training_rows
from aco_assets.scoring.training_settings import TrainingSettings
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig

SHAPE = (1, 16, 10)  # (C, bands, frames): a model small enough to train in seconds
TINY = TrainingSettings(
    z_dim=4, n_components=2, band_groups=4, phase1_steps=10, phase2_steps=3, eras=1,
    false_alarms_per_hour=12.0, seed=0,
)  # fmt: skip


def _rows(start: dt.datetime, n: int, *, typical: bool = True) -> pa.Table:
    """``n`` consecutive 5 s windows from ``start`` (the columns training reads)."""
    starts = [start + dt.timedelta(seconds=5 * i) for i in range(n)]
    rng = np.random.default_rng(n)
    return pa.table(
        {
            "day": [s.date() for s in starts],
            "window_index": np.arange(n, dtype=np.int64),
            "file": ["f.HYD24BBpk"] * n,
            "offset_s": np.arange(n, dtype=float) * 5,
            "window_start": pa.array(starts, pa.timestamp("us")),
            "window_end": pa.array([s + dt.timedelta(seconds=5) for s in starts], pa.timestamp("us")),
            **{c: rng.normal(80.0, 1.0, n) for c in LEVEL_COLUMNS},
            "is_typical": [typical] * n,
        }
    )  # fmt: skip


def _features(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    rows = np.linspace(0, 1, SHAPE[1], dtype=np.float32)[None, None, :, None]
    return (rng.normal(size=(n, *SHAPE)) * 0.3 + np.sin(6 * rows + shift)).astype(np.float32)


@pytest.fixture(scope="module")
def outcome():
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t0 = dt.datetime(2016, 1, 1)
    typical, odd = _rows(t0, 150), _rows(t0 + dt.timedelta(hours=1), 30, typical=False)
    rows = TrainingRows(
        split=TimeSplit("hour", ("2016-01-01T00", "2016-01-01T01"), ("2016-01-01T02",),
                        ("2016-01-01T03",)),
        general=pa.concat_tables([typical, odd]),
        general_is_typical=np.r_[np.ones(150, bool), np.zeros(30, bool)],
        typical=typical,
        calibration=_rows(t0 + dt.timedelta(hours=2), 60),
        heldout=_rows(t0 + dt.timedelta(hours=3), 60),
    )  # fmt: skip
    typical_x = _features(rng, 150)
    features = TrainingFeatures(
        general=np.concatenate([typical_x, _features(rng, 30, shift=2.0)]),
        typical=typical_x,
        calibration=_features(rng, 60),
        heldout=_features(rng, 60),
    )
    lines: list[str] = []
    result = fit_and_check(
        rows, features, FrontEndConfig(), TINY, log=lines.append, selection_id="sel-1"
    )
    return result, lines


def test_the_outcome_holds_a_calibrated_checked_model_and_what_its_run_logs(outcome):
    result, lines = outcome
    assert np.isfinite(result.fitted.threshold)
    assert result.fitted.operating_point["rule"] == "false_alarms_per_hour"
    assert result.metrics["threshold"] == result.fitted.threshold
    assert result.check.budget_per_hour == 12.0 and result.check.hours > 0
    assert result.passed == (result.threshold_is_finite and result.check.passed)
    assert result.params["n_general"] == 180 and result.params["split_unit"] == "hour"
    assert any(k.startswith("phase1.") for p in result.history for k in p.values)
    assert {"losses", "latent_space", "real_anomaly_candidates"} <= set(result.figures)
    for png in result.figures.values():
        assert png.full.startswith(b"\x89PNG") and png.small.startswith(b"\x89PNG")
        assert len(png.small) < len(png.full)
    assert lines and lines[0].startswith("training on 180 general / 150 typical")


def test_the_reference_names_the_front_end_split_and_operating_point(outcome):
    result, _ = outcome
    ref = result.reference
    assert isinstance(ref, DetectorReference)
    assert ref.front_end == FrontEndConfig() and ref.split == result.rows.split
    assert len(ref.typical_median_db) == SHAPE[1] and ref.n_typical == 150
    assert set(ref.typical_levels_db) == set(LEVEL_COLUMNS)
    assert ref.threshold == result.fitted.threshold and ref.score_name == "np"
    assert ref.budget_per_hour == 12.0 and ref.typical_selection_id == "sel-1"
    assert result.params["typical_selection_id"] == "sel-1"
    assert DetectorReference.from_dict(ref.to_dict()) == ref


class _Warehouse:
    """Answers the one query of :func:`training_rows` with a prepared table."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def query(self, sql: str, params=()) -> pa.Table:
        assert "FROM windows w LEFT JOIN typical_windows" in sql
        return self.table


def test_training_rows_split_time_units_apart_and_cap_the_general_windows():
    t0 = dt.datetime(2016, 1, 1)
    hours = [_rows(t0 + dt.timedelta(hours=h), 40, typical=h % 2 == 0) for h in range(8)]
    table = pa.concat_tables(hours)
    settings = dataclasses.replace(TINY, max_general_windows=50)
    rows = training_rows(_Warehouse(table), settings)
    split = rows.split
    assert split.unit == "hour"
    assert not (set(split.train) & set(split.calibration) | set(split.train) & set(split.test))
    assert rows.general.num_rows == 50 and not rows.general_is_typical.all()
    for part, units in ((rows.calibration, split.calibration), (rows.heldout, split.test)):
        keys = {f"{s:%Y-%m-%dT%H}" for s in part["window_start"].to_pylist()}
        assert keys <= set(units)


def test_training_rows_without_typical_windows_is_a_clear_error():
    table = _rows(dt.datetime(2016, 1, 1), 20, typical=False)
    with pytest.raises(ValueError, match="typical_windows is empty"):
        training_rows(_Warehouse(table), TINY)
