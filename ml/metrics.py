"""Detection metrics: ROC curve, AUC, partial AUC and rates at a threshold (NumPy only).

Convention: higher score = more anomalous; label 1 = anomaly (positive), 0 = typical.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

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
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg)); ties count one half."""
    y, s = _check(labels, scores)
    ranks = rankdata(s)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def partial_auc(labels: np.ndarray, scores: np.ndarray, *, max_fpr: float = 0.1) -> float:
    """Area under the ROC curve for FPR in [0, max_fpr], divided by max_fpr.

    The DCASE normalisation: 1 for a perfect detector, ``max_fpr / 2`` for chance (0.05 at
    max_fpr = 0.1). Not the McClish-corrected value of scikit-learn's ``max_fpr`` option.
    """
    fpr, tpr = roc_curve(labels, scores)
    stop = np.searchsorted(fpr, max_fpr, side="right")
    x = np.r_[fpr[:stop], max_fpr]
    y = np.r_[tpr[:stop], np.interp(max_fpr, fpr, tpr)]
    return float(np.trapezoid(y, x) / max_fpr)


def rates_at_threshold(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[float, float]:
    """(TPR, FPR) of the rule ``score > threshold``."""
    y, s = _check(labels, scores)
    flagged = s > threshold
    return float(flagged[y].mean()), float(flagged[~y].mean())
