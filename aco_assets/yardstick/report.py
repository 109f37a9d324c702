"""One method's full yardstick, and a table row per method for the results page.

Dimension letters: S steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aco_assets.scoring.event_matching import SNR_BUCKETS_DB
from aco_assets.scoring.protocol import EPISODE_GAP_S
from aco_assets.scoring.tables import Table
from aco_assets.yardstick.operating import (
    MAX_EPISODE_S,
    OperatingPoint,
    operating_point,
    recall_at_budget,
)
from aco_assets.yardstick.ranking import (
    auc_by_class,
    checked_scores,
    event_balanced_auc,
    window_auc,
)
from aco_assets.yardstick.truth import StepTruth, step_truth

#: Columns of :func:`compare_methods` rows, in the order of the results table.
TABLE_COLUMNS = (
    "method",
    "class_balanced_auc",
    "event_balanced_auc",
    "pauc_mcclish",
    "recall_at_budget",
    "false_alarms_per_hour_at_threshold",
    "recall_by_class_at_budget",
)


@dataclass(frozen=True)
class MethodEvaluation:
    """Every yardstick number of one method's scores.

    Attributes
    ----------
    name : str, the method
    n_steps, n_event_steps, n_negative_steps, n_fault_steps : int
    auc_by_class : dict class -> AUC of its steps vs the negatives
    class_balanced_auc, event_balanced_auc, auc : float, see :mod:`.ranking`
    pauc_mcclish, pauc_normalized : float, partial AUC at FPR <= ``max_fpr``
    max_fpr : float
    at_budget : OperatingPoint, best recall within ``budget_per_hour`` false alarms per hour
    budget_per_hour : float
    at_threshold : OperatingPoint at the given (e.g. the model's) threshold, or None
    """

    name: str
    n_steps: int
    n_event_steps: int
    n_negative_steps: int
    n_fault_steps: int
    auc_by_class: dict[str, float]
    class_balanced_auc: float
    event_balanced_auc: float
    auc: float
    pauc_mcclish: float
    pauc_normalized: float
    max_fpr: float
    at_budget: OperatingPoint
    budget_per_hour: float
    at_threshold: OperatingPoint | None

    def row(self) -> dict[str, Any]:
        """The results-table row (:data:`TABLE_COLUMNS`, plus the threshold details)."""
        at = self.at_threshold
        return {
            "method": self.name,
            "class_balanced_auc": self.class_balanced_auc,
            "event_balanced_auc": self.event_balanced_auc,
            "pauc_mcclish": self.pauc_mcclish,
            "recall_at_budget": self.at_budget.recall,
            "false_alarms_per_hour_at_threshold": np.nan
            if at is None
            else at.false_alarms_per_hour,
            "recall_by_class_at_budget": {
                k: v["recall"] for k, v in self.at_budget.recall_by_class.items()
            },
            "budget_per_hour": self.budget_per_hour,
            "max_fpr": self.max_fpr,
            "threshold_at_budget": self.at_budget.threshold,
            "threshold": np.nan if at is None else at.threshold,
            "recall_at_threshold": np.nan if at is None else at.recall,
        }

    def summary(self) -> dict[str, float]:
        """Flat ``name -> number`` dict, e.g. for ``mlflow.log_metrics``."""
        keys = ("class_balanced_auc", "event_balanced_auc", "auc", "pauc_mcclish")
        out = {k: float(getattr(self, k)) for k in (*keys, "pauc_normalized")}
        out.update({f"auc_{k}": v for k, v in self.auc_by_class.items()})
        out.update(self.at_budget.summary("budget_"))
        if self.at_threshold is not None:
            out.update(self.at_threshold.summary("model_"))
        return out


def evaluate_truth(
    name: str,
    scores: np.ndarray,
    truth: StepTruth,
    *,
    budget_per_hour: float = 1.0,
    threshold: float | None = None,
    max_fpr: float = 0.1,
    max_gap_s: float = EPISODE_GAP_S,
    max_episode_s: float | None = MAX_EPISODE_S,
    snr_buckets_db: Sequence[tuple[float, float]] = SNR_BUCKETS_DB,
) -> MethodEvaluation:
    """:func:`evaluate_method` on labels already computed (one :class:`StepTruth`, many methods)."""
    s = checked_scores(scores, truth)
    by_class = auc_by_class(s, truth)
    finite = [v for v in by_class.values() if np.isfinite(v)]
    ranks = window_auc(s, truth, max_fpr=max_fpr)
    op = {"max_gap_s": max_gap_s, "max_episode_s": max_episode_s, "snr_buckets_db": snr_buckets_db}
    return MethodEvaluation(
        name=name,
        n_steps=int(s.size),
        n_event_steps=int(truth.is_positive.sum()),
        n_negative_steps=int(truth.is_negative.sum()),
        n_fault_steps=int(truth.is_fault.sum()),
        auc_by_class=by_class,
        class_balanced_auc=float(np.mean(finite)) if finite else np.nan,
        event_balanced_auc=event_balanced_auc(s, truth),
        auc=ranks["auc"],
        pauc_mcclish=ranks["pauc_mcclish"],
        pauc_normalized=ranks["pauc_normalized"],
        max_fpr=max_fpr,
        at_budget=recall_at_budget(s, truth, budget_per_hour=budget_per_hour, **op),
        budget_per_hour=budget_per_hour,
        at_threshold=None if threshold is None else operating_point(s, truth, threshold, **op),
    )


def evaluate_method(
    name: str,
    scores: np.ndarray,
    start_utc: np.ndarray,
    end_utc: np.ndarray,
    events: Table,
    faults: Table | None = None,
    *,
    budget_per_hour: float = 1.0,
    threshold: float | None = None,
    min_overlap_s: float = 0.5,
    **options: Any,
) -> MethodEvaluation:
    """Every yardstick number of one method's step scores.

    Parameters
    ----------
    name : str, the method (a row of the results table)
    scores : float (S,), higher = more anomalous; NaN only on fault steps
    start_utc, end_utc : datetime64[us] (S,), the steps
    events, faults : the synthetic archive's tables (see :func:`.truth.step_truth`)
    budget_per_hour : float, false alarms per audio hour for the recall-at-budget point
    threshold : float, optional, e.g. the model's; adds the operating point there
    min_overlap_s : float, s, the overlap rule of the step labels
    **options : ``max_fpr``, ``max_gap_s``, ``max_episode_s``, ``snr_buckets_db`` (keywords of
        :func:`evaluate_truth`)

    Returns
    -------
    MethodEvaluation
    """
    truth = step_truth(start_utc, end_utc, events, faults, min_overlap_s=min_overlap_s)
    return evaluate_truth(
        name, scores, truth, budget_per_hour=budget_per_hour, threshold=threshold, **options
    )


def compare_methods(
    scores: Mapping[str, np.ndarray],
    start_utc: np.ndarray,
    end_utc: np.ndarray,
    events: Table,
    faults: Table | None = None,
    *,
    thresholds: Mapping[str, float] | None = None,
    budget_per_hour: float = 1.0,
    min_overlap_s: float = 0.5,
    **options: Any,
) -> list[dict[str, Any]]:
    """One results-table row per method (:meth:`MethodEvaluation.row`), labels computed once.

    Parameters
    ----------
    scores : method name -> float (S,), all on the same steps
    thresholds : method name -> its operating threshold (for "FA/h at the model threshold")
    start_utc, end_utc, events, faults, budget_per_hour, min_overlap_s, **options : as
        :func:`evaluate_method`
    """
    truth = step_truth(start_utc, end_utc, events, faults, min_overlap_s=min_overlap_s)
    thr = dict(thresholds or {})
    return [
        evaluate_truth(
            name, s, truth, budget_per_hour=budget_per_hour, threshold=thr.get(name), **options
        ).row()
        for name, s in scores.items()
    ]


def results_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`compare_methods` as a Markdown table (per-class recall at budget)."""
    budget = rows[0]["budget_per_hour"] if rows else 1.0
    max_fpr = rows[0]["max_fpr"] if rows else 0.1
    head = [
        "method",
        "class-balanced AUC",
        "event-balanced AUC",
        f"pAUC (McClish, FPR<={max_fpr:g})",
        f"recall @ <={budget:g} FA/h",
        "FA/h at model threshold",
        "recall per class @ budget",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        per_class = ", ".join(f"{k} {v:.2f}" for k, v in r["recall_by_class_at_budget"].items())
        nums = [r[c] for c in TABLE_COLUMNS[1:6]]
        lines.append(
            f"| {r['method']} | " + " | ".join(f"{v:.3f}" for v in nums) + f" | {per_class} |"
        )
    return "\n".join(lines)
