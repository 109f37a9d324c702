"""One model version's evaluation, from the tables it reads to the rows it writes.

:func:`evaluate_model_version` is the whole of the ``evaluation`` asset's arithmetic: window
and event metrics of every method (:mod:`aco_assets.scoring.methods`) when the archive has a
ground-truth catalog, the held-out yardstick when the version records its time split
(:func:`aco_assets.scoring.model_evaluation.held_out_summary`), reviewer precision and alarms per
day always. :mod:`aco_assets.storage.evaluation_store` loads the inputs and writes the rows,
:mod:`aco_assets.reporting.evaluation_page` draws the figures. No Dagster, DuckDB or MLflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from aco_assets.scoring.event_matching import EventMatch
from aco_assets.scoring.methods import (
    evaluate_methods,
    metric_rows,
    model_split,
    review_rows,
    row,
    yardstick_rows,
)
from aco_assets.scoring.model_evaluation import held_out_summary


@dataclass(frozen=True)
class EvaluationSettings:
    """How to evaluate: the pAUC limit, matching slack, baseline merging, precision@k cut-offs."""

    max_fpr: float = 0.1
    tolerance_s: float = 2.0
    max_gap_s: float = 5.0
    ks: tuple[int, ...] = (10, 50, 100)


@dataclass(frozen=True)
class HeldOutInputs:
    """What the held-out yardstick reads besides the catalog (see ``held_out_summary``)."""

    windows: pa.Table
    typical: pa.Table
    issues: pa.Table
    archive_root: str | os.PathLike


@dataclass(frozen=True)
class VersionInputs:
    """Everything the evaluation of one model version reads.

    Attributes
    ----------
    version : the model version
    model : its ``model_versions`` row
    windows : its scored steps that every method scored and no data-quality issue touches
    n_days : days it scored
    production : its detections (``start_utc, end_utc, peak_score``)
    reviewed : its reviewed detections (``peak_score, is_true``)
    per_day : (day, detections) of every scored day, in time order
    catalog_path : where the ground-truth catalog is (or would be)
    catalog, faults : the archive's ground truth (None without a catalog / faults table)
    held_out : the held-out yardstick's inputs (None without a catalog or a time split)
    """

    version: int
    model: dict[str, Any]
    windows: pa.Table
    n_days: int
    production: pa.Table
    reviewed: pa.Table
    per_day: tuple[tuple[str, int], ...]
    catalog_path: str
    catalog: pa.Table | None = None
    faults: pa.Table | None = None
    held_out: HeldOutInputs | None = None

    @property
    def has_ground_truth(self) -> bool:
        """A catalog to score against and windows to score."""
        return self.catalog is not None and self.windows.num_rows > 0


@dataclass(frozen=True)
class EvaluationOutcome:
    """What the evaluation found.

    Attributes
    ----------
    rows : the ``evaluation_metrics`` rows (without model_version / evaluated_at)
    results, matches : window metrics and event matches per method (None without ground truth)
    held_out : the held-out yardstick summary (None without ground truth or a time split)
    notes : what was left out and why, for the run's log
    """

    rows: list[dict[str, Any]]
    results: dict[str, dict] | None = None
    matches: dict[str, EventMatch] | None = None
    held_out: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def alarms_per_day(self) -> float:
        """Production detections per scored day."""
        return next(
            r["value"]
            for r in self.rows
            if (r["method"], r["metric"], r["subset"])
            == ("production", "alarms_per_day", "detections")
        )


def evaluate_model_version(
    inputs: VersionInputs, settings: EvaluationSettings = EvaluationSettings()
) -> EvaluationOutcome:
    """Score one model version against the catalog, the baselines and the reviewers."""
    n_days = max(inputs.n_days, 1)
    rows = review_rows(inputs.reviewed, settings.ks)
    rows.append(
        row("production", "alarms_per_day", "detections", inputs.production.num_rows / n_days)
    )
    results = matches = summary = None
    notes: list[str] = []
    if inputs.has_ground_truth:
        results, matches = evaluate_methods(
            inputs.windows,
            inputs.production,
            inputs.catalog,
            faults=inputs.faults,
            threshold=inputs.model["threshold"],
            n_days=n_days,
            max_fpr=settings.max_fpr,
            tolerance_s=settings.tolerance_s,
            max_gap_s=settings.max_gap_s,
            ks=list(settings.ks),
        )
        rows += metric_rows(results, matches)
        summary = _held_out(inputs, notes)
        if summary is not None:
            rows += yardstick_rows(summary)
    else:
        notes.append(f"no ground truth at {inputs.catalog_path}: only alarm and review metrics")
    return EvaluationOutcome(rows, results, matches, summary, tuple(notes))


def _held_out(inputs: VersionInputs, notes: list[str]) -> dict[str, Any] | None:
    split = model_split(inputs.model)
    if split is None or inputs.held_out is None:
        notes.append(f"model version {inputs.version} records no time split: no held-out figures")
        return None
    h = inputs.held_out
    return held_out_summary(
        h.windows, h.typical, h.archive_root, inputs.model, split, inputs.catalog, inputs.faults,
        h.issues,
    )  # fmt: skip
