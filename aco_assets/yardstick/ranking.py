"""Threshold-free step metrics: class-balanced AUC, event-balanced AUC and the partial AUC.

Positives are event steps, negatives event-free steps; fault steps are in neither (scored apart).

- **class-balanced AUC**: the mean over event classes of AUC(steps of that class vs negatives),
  so a common class (humpback song) cannot drown a rare one (implosions).
- **event-balanced AUC**: every event weighs 1 in total, its steps ``1 / n_steps`` each (a long
  ship passage does not outweigh a 50 ms implosion), negatives 1 each (``roc_auc_score`` with
  ``sample_weight``).
- **pAUC** at FPR <= ``max_fpr`` over all positives, in both conventions of
  :func:`aco_assets.scoring.evaluation.window_metrics`: McClish (1989) standardised (0.5 = chance) and
  the DCASE ``integral / max_fpr`` (chance ``max_fpr / 2``).

Dimension letters: S steps.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from aco_assets.scoring.evaluation import EvaluationError, partial_auc
from aco_assets.yardstick.truth import StepTruth

logger = logging.getLogger(__name__)
_NAN = float("nan")


def checked_scores(scores: np.ndarray, truth: StepTruth) -> np.ndarray:
    """Scores as float64 (S,), checked against the steps of ``truth``.

    NaN is allowed on fault steps only (missing data has no score); anywhere else it raises, as
    does a shape that differs from the steps.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != truth.start_utc.shape:
        raise EvaluationError(
            f"scores {s.shape} and the steps {truth.start_utc.shape} must be equal 1-D shapes"
        )
    bad = np.flatnonzero(~np.isfinite(s) & ~truth.is_fault)
    if bad.size:
        raise EvaluationError(
            f"{bad.size} scores are NaN or infinite outside fault steps (first at step "
            f"{bad[0]}, {truth.start_utc[bad[0]]}); score those steps or mark them as faults"
        )
    return s


def _auc(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None, **kw) -> float:
    if y.all() or not y.any():
        return _NAN
    return float(roc_auc_score(y, s, sample_weight=w, **kw))


def auc_by_class(scores: np.ndarray, truth: StepTruth) -> dict[str, float]:
    """AUC of each event class's steps against the negatives, ``{class: auc}`` (sorted)."""
    s = checked_scores(scores, truth)
    neg, pos = truth.is_negative, truth.is_positive
    out = {}
    for name in sorted(set(truth.event_class[pos])):
        sel = neg | (pos & (truth.event_class == name))
        out[str(name)] = _auc(~neg[sel], s[sel])
    return out


def class_balanced_auc(scores: np.ndarray, truth: StepTruth) -> float:
    """Mean over classes of :func:`auc_by_class` (NaN without positives or negatives)."""
    values = [v for v in auc_by_class(scores, truth).values() if np.isfinite(v)]
    return float(np.mean(values)) if values else _NAN


def event_weights(truth: StepTruth) -> np.ndarray:
    """float64 (S,): ``1 / n_steps`` of each positive step's event, 1 on negatives, 0 on faults."""
    pos = truth.is_positive
    w = truth.is_negative.astype(np.float64)
    _, inverse, counts = np.unique(truth.event_id[pos], return_inverse=True, return_counts=True)
    w[pos] = 1.0 / counts[inverse]
    return w


def event_balanced_auc(scores: np.ndarray, truth: StepTruth) -> float:
    """ROC AUC with each event's steps weighing 1 in total (see :func:`event_weights`)."""
    s = checked_scores(scores, truth)
    keep = ~truth.is_fault
    return _auc(truth.is_event[keep], s[keep], event_weights(truth)[keep])


def window_auc(scores: np.ndarray, truth: StepTruth, *, max_fpr: float = 0.1) -> dict[str, float]:
    """Unweighted step AUC and pAUC, ``{"auc", "pauc_mcclish", "pauc_normalized"}``."""
    if not 0.0 < max_fpr <= 1.0:
        raise EvaluationError(f"max_fpr must be in (0, 1], got {max_fpr}")
    s = checked_scores(scores, truth)
    keep = ~truth.is_fault
    y, s = truth.is_event[keep], s[keep]
    if y.all() or not y.any():
        logger.warning("only one class among %d steps (%d positive): no ROC", y.size, y.sum())
        return {"auc": _NAN, "pauc_mcclish": _NAN, "pauc_normalized": _NAN}
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {
        "auc": _auc(y, s),
        "pauc_mcclish": _auc(y, s, max_fpr=max_fpr),
        "pauc_normalized": partial_auc(fpr, tpr, max_fpr) / max_fpr,
    }
