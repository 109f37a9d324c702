"""One yardstick seed's data folder as the model study reads it, and the held-out evaluation of
a variant's scores at its own steps (``orchestration.studies.model_study``,
``orchestration.studies.model_variants``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from aco_assets.defs.model.detector import DetectorTrainingConfig
from aco_assets.scoring.protocol import (
    EPISODE_GAP_S,
    TimeSplit,
    threshold_for_budget,
    unit_keys,
    utc_micros,
)
from aco_assets.scoring.training_data import gather_features, training_rows
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse
from aco_assets.synth.catalog import CATALOG_NAME, FAULTS_NAME
from aco_assets.yardstick import evaluate_truth, step_truth


@dataclass
class SeedData:
    """The protocol's parts of one seed's data folder, as arrays."""

    seed: int
    split: TimeSplit
    general: np.ndarray  # (N, 1, F, T) training days, valid windows
    general_is_typical: np.ndarray
    typical: np.ndarray  # training days' typical windows
    calibration: np.ndarray  # calibration days' typical windows
    calibration_start_us: np.ndarray
    calibration_end_us: np.ndarray
    test: np.ndarray  # every valid window of the test days
    test_start_us: np.ndarray
    test_end_us: np.ndarray
    events: pa.Table
    faults: pa.Table | None
    extra: dict[str, Any] = field(default_factory=dict)


def load_seed(folder: Path, seed: int) -> SeedData:
    """Read one yardstick seed's folder (``aco yardstick --work``)."""
    layout = DataLayout(data_dir=folder, archive_root=folder / "archive")
    warehouse = Warehouse(layout.duckdb_path)
    rows = training_rows(warehouse, DetectorTrainingConfig(seed=seed))
    windows = warehouse.query(
        "SELECT day, window_index, file, offset_s, window_start, window_end FROM windows "
        "WHERE valid "
        "ORDER BY day, window_index"
    )
    keys = unit_keys(utc_micros(windows["window_start"]), rows.split.unit)
    test_rows = windows.take(pa.array(np.flatnonzero(np.isin(keys, list(rows.split.test)))))
    faults_path = folder / "archive" / FAULTS_NAME
    return SeedData(
        seed=seed,
        split=rows.split,
        general=gather_features(layout, warehouse, rows.general),
        general_is_typical=rows.general_is_typical,
        typical=gather_features(layout, warehouse, rows.typical),
        calibration=gather_features(layout, warehouse, rows.calibration),
        calibration_start_us=utc_micros(rows.calibration["window_start"]),
        calibration_end_us=utc_micros(rows.calibration["window_end"]),
        test=gather_features(layout, warehouse, test_rows),
        test_start_us=utc_micros(test_rows["window_start"]),
        test_end_us=utc_micros(test_rows["window_end"]),
        events=pq.read_table(folder / "archive" / CATALOG_NAME),
        faults=pq.read_table(faults_path) if faults_path.exists() else None,
        extra={
            "folder": folder,
            "rows": {
                "general": rows.general,
                "typical": rows.typical,
                "calibration": rows.calibration,
                "test": test_rows,
            },
        },
    )


@dataclass(frozen=True)
class StepScores:
    """Scores of a variant at its own steps: (S,) start/end (us) and named score arrays."""

    start_us: np.ndarray
    end_us: np.ndarray
    scores: dict[str, np.ndarray]


def evaluate_steps(
    name: str,
    test: StepScores,
    calibration: StepScores,
    data: SeedData,
    *,
    budget_per_hour: float = 1.0,
    production: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every score of a variant on the held-out steps; the production one also at the threshold
    the budget sets on the calibration steps."""
    s64 = test.start_us.astype("datetime64[us]")
    e64 = test.end_us.astype("datetime64[us]")
    truth = step_truth(s64, e64, data.events, data.faults)
    out = {}
    for score_name, values in test.scores.items():
        thr = None
        if score_name == production:
            thr = threshold_for_budget(
                calibration.scores[score_name],
                calibration.start_us,
                calibration.end_us,
                budget_per_hour=budget_per_hour,
                max_gap_s=EPISODE_GAP_S,
            ).threshold
        ev = evaluate_truth(f"{name}:{score_name}", values, truth,
                            budget_per_hour=budget_per_hour, threshold=thr)  # fmt: skip
        b = ev.at_budget
        row = {
            "class_balanced_auc": ev.class_balanced_auc,
            "event_balanced_auc": ev.event_balanced_auc,
            "recall_at_budget": b.recall,
            "per_class_recall": {k: v["recall"] for k, v in b.recall_by_class.items()},
            "per_class_auc": dict(ev.auc_by_class),
        }
        if ev.at_threshold is not None:
            row |= {
                "fa_per_hour_at_threshold": ev.at_threshold.false_alarms_per_hour,
                "recall_at_threshold": ev.at_threshold.recall,
            }
        out[score_name] = row
    return out


Variant = Callable[[SeedData], tuple[StepScores, StepScores]]
