"""The windows and features of each part of the detector's protocol, read from the warehouse.

The protocol (:mod:`aco_assets.scoring.protocol`) separates training, calibration and test in
time: whole UTC days (clock hours for an archive of fewer than three days) go to one part each,
so no calibration or test window is seen by any training phase. Training uses the valid windows
of the training units (general data, capped) and their typical windows; the real anomaly
candidates of phase 2 are the general windows *outside* the typical selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from aco_assets.scoring.protocol import (
    TimeSplit,
    choose_unit,
    split_units,
    step_spans_us,
    unit_keys,
    utc_micros,
)
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig
from aco_assets.storage.feature_store import load_day_features, read_sidecar
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse

__all__ = ["SplitSettings", "TrainingRows", "front_end_of", "gather_features", "step_spans",
           "training_rows"]  # fmt: skip


class SplitSettings(Protocol):
    """The settings :func:`training_rows` reads (``TrainingSettings`` has them)."""

    calibration_share: float
    heldout_share: float
    max_general_windows: int
    seed: int


@dataclass(frozen=True)
class TrainingRows:
    """The windows of each part of the protocol (tables with ``day, window_index, file, ...``).

    ``general`` (valid windows of the training units, capped) trains phase 1; its rows outside
    the typical selection (``general_is_typical`` false) are the phase-2 anomaly candidates;
    ``typical`` (the typical windows of the training units) fits the GMM and is the NP negative
    class; ``calibration`` and ``heldout`` are the typical windows of the calibration and test
    units, with ``window_start`` and ``window_end``.
    """

    split: TimeSplit
    general: pa.Table
    general_is_typical: np.ndarray
    typical: pa.Table
    calibration: pa.Table
    heldout: pa.Table


def training_rows(warehouse: Warehouse, config: SplitSettings) -> TrainingRows:
    """Split the valid windows in time (:mod:`aco_assets.scoring.protocol`) into the parts of
    training."""
    rows = warehouse.query(
        "SELECT w.day, w.window_index, w.file, w.offset_s, w.window_start, w.window_end, "
        f"{', '.join('w.' + c for c in LEVEL_COLUMNS)}, t.window_index IS NOT NULL AS is_typical "
        "FROM windows w LEFT JOIN typical_windows t USING (day, window_index) "
        "WHERE w.valid ORDER BY w.day, w.window_index"
    )
    is_typical = np.asarray(rows["is_typical"].to_numpy(zero_copy_only=False), dtype=bool)
    if not is_typical.any():
        raise ValueError("typical_windows is empty: materialize it (and check its selection rules)")
    start_us = utc_micros(rows["window_start"])
    unit = choose_unit(start_us)
    keys = unit_keys(start_us, unit)
    split = split_units(
        np.unique(keys[is_typical]).tolist(),
        unit=unit,
        calibration_share=config.calibration_share,
        test_share=config.heldout_share,
        seed=config.seed,
    )
    part = split.part_of(keys.tolist())
    part[part < 0] = 0  # units without typical windows only ever train (general data)
    general = np.flatnonzero(part == 0)
    if general.size > config.max_general_windows:
        rng = np.random.default_rng(config.seed)
        general = np.sort(rng.choice(general, config.max_general_windows, replace=False))
    if is_typical[general].all():
        raise ValueError(
            "every training window is typical: phase 2 has no anomaly candidates; narrow the "
            "typical_windows selection (evening_hours_hst, low_traffic_months)"
        )
    take = lambda mask: rows.take(pa.array(np.flatnonzero(mask)))  # noqa: E731
    return TrainingRows(
        split=split,
        general=rows.take(pa.array(general)),
        general_is_typical=is_typical[general],
        typical=take((part == 0) & is_typical),
        calibration=take((part == 1) & is_typical),
        heldout=take((part == 2) & is_typical),
    )


def gather_features(layout: DataLayout, warehouse: Warehouse, rows: pa.Table) -> np.ndarray:
    """Features (N, 1, F, T) float32 of the (day, window_index) rows, in the rows' order."""
    days = np.array(rows["day"].to_pylist())
    index = np.asarray(rows["window_index"].to_numpy(), dtype=np.int64)
    counts = {
        r["day"]: r["n"]
        for r in warehouse.query("SELECT day, count(*) AS n FROM windows GROUP BY day").to_pylist()
    }
    out: np.ndarray | None = None
    for day in sorted(set(days.tolist())):
        feats = load_day_features(
            layout.features_path(day), expected_rows=counts.get(day, 0), cache_dir=layout.cache_dir
        )
        if out is None:
            out = np.empty((len(index), *feats.shape[1:]), dtype=np.float32)
        sel = np.flatnonzero(days == day)
        out[sel] = feats[index[sel]]
    if out is None:
        raise ValueError("no windows to load: materialize spectrograms first")
    return out


def front_end_of(layout: DataLayout, rows: pa.Table) -> FrontEndConfig:
    """The front end of the features of the first row's day (its sidecar)."""
    day = rows["day"][0].as_py()
    return FrontEndConfig.from_dict(read_sidecar(layout.features_path(day))["front_end"])


def step_spans(rows: pa.Table, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(N * K,) start and end (us) of the ``n_steps`` scoring steps of each window row, in
    the order of :meth:`ml.FittedDetector.score_steps` flattened (window by window)."""
    return step_spans_us(utc_micros(rows["window_start"]), utc_micros(rows["window_end"]), n_steps)
