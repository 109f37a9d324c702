"""Detection metrics: ROC curve, AUC, partial AUC and rates at a threshold.

The arithmetic is the project's one ROC implementation, :mod:`aco_assets.scoring.roc` (the
evaluation of a model version uses it too); this module checks the inputs and raises the model
package's :class:`~ml.errors.InputShapeError`.

Convention: higher score = more anomalous; label 1 = anomaly (positive), 0 = typical. A sample
is flagged at a threshold when ``score > threshold`` (the project's anomaly rule).
"""

from __future__ import annotations

import numpy as np

from aco_assets.scoring import roc
from ml.errors import InputShapeError

__all__ = ["roc_curve", "roc_auc", "partial_auc", "rates_at_threshold"]


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise InputShapeError(f"labels {y.shape} and scores {s.shape} differ in length")
    if y.all() or not y.any():
        raise InputShapeError("metrics need both anomalies (label 1) and typical samples (0)")
    if not np.isfinite(s).all():
        raise InputShapeError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite")
    return y, s


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates (M,), (M,) float64 over all distinct thresholds.

    Starts at (0, 0) and ends at (1, 1); tied scores form one step (as scikit-learn).
    """
    fpr, tpr, _ = roc.roc_points(*_check(labels, scores))
    return fpr, tpr


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg)); ties count one half."""
    return roc.roc_auc(*_check(labels, scores))


def partial_auc(labels: np.ndarray, scores: np.ndarray, *, max_fpr: float = 0.1) -> float:
    """Area under the ROC curve for FPR in [0, max_fpr], divided by max_fpr.

    The DCASE normalisation: 1 for a perfect detector, ``max_fpr / 2`` for chance (0.05 at
    max_fpr = 0.1). Not the McClish-corrected value of scikit-learn's ``max_fpr`` option
    (:func:`aco_assets.scoring.roc.mcclish_pauc`).
    """
    fpr, tpr = roc_curve(labels, scores)
    return roc.partial_area(fpr, tpr, max_fpr) / max_fpr


def rates_at_threshold(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[float, float]:
    """(TPR, FPR) of the rule ``score > threshold``."""
    y, s = _check(labels, scores)
    flagged = s > threshold
    return float(flagged[y].mean()), float(flagged[~y].mean())
