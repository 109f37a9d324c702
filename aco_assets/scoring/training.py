"""Training the detector: the three-phase Neyman-Pearson model on the archive's windows.

:func:`train_detector` does the work of the ``detector`` asset without Dagster or MLflow: it
reads the windows of each part of the protocol (:mod:`aco_assets.scoring.training_data`), trains
on the training units, turns the false-alarm budget (alarms per hour of audio) into the
production threshold on the typical windows of the calibration units, checks the realised rate
on the typical windows of the test units two-sided (``threshold_is_sane``), and draws the
training figures. The :class:`TrainingOutcome` holds all of it;
:func:`aco_assets.storage.model_registry.register` logs it as an MLflow run and a registered
version.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from aco_assets.reporting.figures import png_bytes
from aco_assets.scoring.protocol import (
    EPISODE_GAP_S,
    BudgetCheck,
    BudgetThreshold,
    audio_hours,
    budget_check,
    count_episodes,
    is_anomalous,
    threshold_for_budget,
)
from aco_assets.scoring.reference import DetectorReference
from aco_assets.scoring.training_data import (
    TrainingRows,
    front_end_of,
    gather_features,
    step_spans,
    training_rows,
)
from aco_assets.scoring.training_settings import TrainingSettings
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig

if TYPE_CHECKING:
    from aco_assets.storage.layout import DataLayout
    from aco_assets.storage.warehouse import Warehouse
    from ml import FittedDetector

__all__ = ["FigurePng", "MetricPoint", "TrainingFeatures", "TrainingOutcome", "TrainingSettings",
           "fit_and_check", "heldout_check", "set_budget_threshold", "train_detector"]  # fmt: skip

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingFeatures:
    """Features (N, 1, F, T) float32 of each part of :class:`TrainingRows`, in its row order."""

    general: np.ndarray
    typical: np.ndarray
    calibration: np.ndarray
    heldout: np.ndarray


@dataclass(frozen=True)
class MetricPoint:
    """Training metrics of one step (``phase.name`` keys), and when they were seen (ms)."""

    values: dict[str, float]
    step: int
    timestamp_ms: int


@dataclass(frozen=True)
class FigurePng:
    """A training figure: full size (the MLflow artifact) and small (the Dagster metadata)."""

    full: bytes
    small: bytes


@dataclass(frozen=True)
class TrainingOutcome:
    """A trained, calibrated and checked detector, with what its run records.

    ``params``, ``metrics``, ``history`` (per-step training metrics), ``figures`` and ``tags``
    are what the MLflow run logs; ``reference`` goes into the registered version beside the
    model; ``started_ms`` is when training began (the run's start).
    """

    fitted: FittedDetector
    rows: TrainingRows
    budget: BudgetThreshold
    heldout_fpr: float
    check: BudgetCheck
    reference: DetectorReference
    params: dict[str, Any]
    metrics: dict[str, float]
    history: tuple[MetricPoint, ...]
    figures: dict[str, FigurePng]
    tags: dict[str, str] = field(default_factory=dict)
    started_ms: int = 0

    @property
    def split(self):
        return self.rows.split

    @property
    def threshold_is_finite(self) -> bool:
        return bool(np.isfinite(self.fitted.threshold))

    @property
    def passed(self) -> bool:
        """``threshold_is_sane``: a finite threshold and a held-out rate within the budget."""
        return self.threshold_is_finite and self.check.passed

    @property
    def gmm_converged(self) -> bool:
        return bool(self.fitted.gmm.converged_)

    @property
    def n_general(self) -> int:
        return self.rows.general.num_rows

    @property
    def n_typical(self) -> int:
        return self.rows.typical.num_rows


def train_detector(
    layout: DataLayout, warehouse: Warehouse, settings: TrainingSettings, *, log: Log | None = None
) -> TrainingOutcome:
    """Train, calibrate and check a detector on the warehouse's windows (no Dagster, no MLflow).

    Raises
    ------
    ValueError
        No typical windows, no phase-2 anomaly candidates, or features missing or out of step
        with the ``windows`` table (each names what to materialize).
    """
    from aco_assets.storage.typical_selection_store import current_selection

    selection = current_selection(warehouse)
    rows = training_rows(warehouse, settings)
    features = TrainingFeatures(
        *(gather_features(layout, warehouse, t) for t in (rows.general, rows.typical,
                                                          rows.calibration, rows.heldout))
    )  # fmt: skip
    return fit_and_check(
        rows, features, front_end_of(layout, rows.general), settings, log=log,
        selection_id=selection.selection_id if selection is not None else None,
    )  # fmt: skip


def fit_and_check(
    rows: TrainingRows,
    features: TrainingFeatures,
    front_end: FrontEndConfig,
    settings: TrainingSettings,
    *,
    log: Log | None = None,
    selection_id: str | None = None,
) -> TrainingOutcome:
    """Train on ``features.general`` / ``features.typical``, set the budget threshold on the
    calibration part, check it on the held-out part, and draw the figures; ``selection_id``:
    the typical selection of ``rows`` (recorded with the version)."""
    from ml import fit_detector

    started_ms = int(time.time() * 1000)
    log = log or (lambda line: None)
    det_cfg, train_cfg = settings.ml_configs(tuple(features.general.shape[1:]), front_end.window_s)
    log(
        f"training on {len(features.general)} general / {len(features.typical)} typical windows "
        f"of {len(rows.split.train)} {rows.split.unit}(s); calibration {rows.split.calibration}, "
        f"test {rows.split.test}"
    )
    history = _History(log)
    fitted = fit_detector(
        features.general,
        features.typical,
        config=det_cfg,
        train=train_cfg,
        calibration=features.calibration,
        candidates=features.general[~rows.general_is_typical],
        callback=history,
    )
    budget = set_budget_threshold(fitted, features.calibration, rows.calibration, settings)
    heldout_fpr, check = heldout_check(fitted, features.heldout, rows.heldout, settings)
    figures, tags = training_figures(fitted, features.general, features.typical)
    reference = _reference(features.typical, rows, front_end, fitted, selection_id)
    return TrainingOutcome(
        fitted=fitted,
        rows=rows,
        budget=budget,
        heldout_fpr=heldout_fpr,
        check=check,
        reference=reference,
        params={
            **_params(det_cfg, train_cfg, rows, settings),
            "typical_selection_id": selection_id or "",
        },
        metrics={
            "threshold": fitted.threshold,
            "calibration_fpr": fitted.realised_calibration_fpr,
            "calibration_hours": budget.hours,
            "heldout_fpr": heldout_fpr,
            "heldout_hours": check.hours,
            "heldout_false_alarms_per_hour": check.rate_per_hour,
        },
        history=tuple(history.points),
        figures=figures,
        tags=tags,
        started_ms=started_ms,
    )


def set_budget_threshold(
    fitted: FittedDetector, features: np.ndarray, rows: pa.Table, config: TrainingSettings
) -> BudgetThreshold:
    """Turn the false-alarm budget into the production threshold on calibration time, over
    the model's scoring steps."""
    scores = fitted.score_steps(features).score.ravel()
    start, end = step_spans(rows, fitted.config.n_steps)
    budget = threshold_for_budget(
        scores, start, end, budget_per_hour=config.budget_per_hour, max_gap_s=EPISODE_GAP_S
    )
    fitted.set_operating_point(
        budget.threshold,
        rule="false_alarms_per_hour",
        max_gap_s=EPISODE_GAP_S,
        **{k: v for k, v in budget.to_dict().items() if k != "threshold"},
    )
    return budget


def heldout_check(
    fitted: FittedDetector, features: np.ndarray, rows: pa.Table, config: TrainingSettings
) -> tuple[float, BudgetCheck]:
    """Step FPR and the two-sided alarm-rate check on the test units' typical windows."""
    start, end = step_spans(rows, fitted.config.n_steps)
    flags = is_anomalous(fitted.score_steps(features).score.ravel(), fitted.threshold)
    n_alarms = count_episodes(start, end, flags, max_gap_s=EPISODE_GAP_S)
    check = budget_check(
        n_alarms, audio_hours(start, end), config.budget_per_hour, alpha=config.check_alpha
    )
    return float(flags.mean()), check


def training_figures(
    fitted: FittedDetector, general: np.ndarray, typical: np.ndarray
) -> tuple[dict[str, FigurePng], dict[str, str]]:
    """The training figures as PNG bytes, and the run tags they call for.

    "Simulated anomalies" shows both sources of phase 2: general windows whose latent is
    unlikely under the typical GMM (the "real" source) and latents drawn below the typical
    rho-quantile decoded by the generator (the "decoded" source).
    """
    from ml import SamplerCapError
    from ml.plots import plot_image_grid, plot_latent_space, plot_loss_curves
    from ml.scoring import generate_anomalies

    sample = general[:4000]
    mu = np.concatenate([fitted.latents(sample), fitted.latents(typical[:4000])])
    labels = np.array(["general"] * len(sample) + ["typical"] * len(typical[:4000]))
    unlikely = sample[np.argsort(-fitted.score(sample).gmm_nll)[:16]]
    figs = {
        "losses": plot_loss_curves(fitted.history),
        "latent_space": plot_latent_space(mu, fitted.gmm, labels=labels),
        "real_anomaly_candidates": plot_image_grid(
            unlikely, title="general windows least likely under the typical GMM (band x time)"
        ),
    }
    tags = {}
    try:
        figs["decoded_anomalies"] = plot_image_grid(
            generate_anomalies(fitted, 16), title="decoded latents below the typical rho-quantile"
        )
    except SamplerCapError as e:
        # The typical GMM can cover the whole N(0, I) prior: then no decoded anomaly exists,
        # one reason the production anomaly source is "real" (docs/model_results.md).
        tags["decoded_anomalies"] = f"none: {e}"
    out = {}
    for name, fig in figs.items():
        full = io.BytesIO()
        fig.savefig(full, format="png")  # what MLflow's log_figure writes
        out[name] = FigurePng(full=full.getvalue(), small=png_bytes(fig, dpi=50))
    return out, tags


class _History:
    """Keeps every 10th step's training metrics (and the GMM's), and a log line per phase."""

    def __init__(self, log: Log, every: int = 10) -> None:
        self.log, self.every, self.points, self.last_phase = log, every, [], None

    def __call__(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        if phase != self.last_phase:
            self.log(f"training: {phase} at step {step}: {metrics}")
            self.last_phase = phase
        if step % self.every == 0 or phase == "gmm":
            values = {f"{phase}.{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}
            self.points.append(MetricPoint(values, step, int(time.time() * 1000)))


def _params(det_cfg, train_cfg, rows: TrainingRows, config: TrainingSettings) -> dict[str, Any]:
    return {
        **{f"detector.{k}": v for k, v in det_cfg.to_dict().items()},
        **{f"train.{k}": v for k, v in train_cfg.to_dict().items()},
        "false_alarms_per_hour": config.budget_per_hour,
        "split_unit": rows.split.unit,
        "train_units": ",".join(rows.split.train)[:500],
        "calibration_units": ",".join(rows.split.calibration)[:500],
        "test_units": ",".join(rows.split.test)[:500],
        "n_general": rows.general.num_rows,
        "n_typical_train": rows.typical.num_rows,
        "n_calibration": rows.calibration.num_rows,
        "n_heldout": rows.heldout.num_rows,
    }


def _reference(
    typical: np.ndarray,
    rows: TrainingRows,
    front_end: FrontEndConfig,
    fitted: FittedDetector,
    selection_id: str | None,
) -> DetectorReference:
    """What scoring needs beside the model: the typical median spectrum and front-end config."""
    levels = {
        c: (float(np.nanmedian(rows.typical[c].to_numpy(zero_copy_only=False))),)
        for c in LEVEL_COLUMNS
    }
    return DetectorReference(
        front_end=front_end,
        typical_median_db=tuple(np.median(typical[:, 0], axis=(0, 2)).tolist()),  # (F,)
        typical_levels_db=levels,  # the energy detector's noise floor, dB
        n_typical=len(typical),
        level_columns=tuple(LEVEL_COLUMNS),
        trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
        split=rows.split,
        score_name=fitted.score_name,
        threshold=float(fitted.threshold),
        budget_per_hour=(fitted.operating_point or {}).get("budget_per_hour"),
        typical_selection_id=selection_id,
    )
