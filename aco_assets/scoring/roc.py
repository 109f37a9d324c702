"""The project's one ROC arithmetic: curve, AUC, partial area and the McClish pAUC.

Both the evaluation of a model version (:func:`aco_assets.scoring.evaluation.window_metrics`)
and the model package's metrics (:mod:`ml.metrics`) compute their figures here. NumPy and SciPy
only; callers check their inputs (1-D, equal lengths, finite scores, both classes present).

Convention: higher score = more anomalous; label True = anomaly (positive). Dimension letters:
N samples, M distinct scores + 1.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates and thresholds (M,) of every distinct score.

    Point ``i`` flags the samples with ``score >= thresholds[i]``; the first point is (0, 0)
    with threshold ``inf``, the last (1, 1) at the lowest score; tied scores form one step. The
    points of scikit-learn's ``roc_curve(..., drop_intermediate=False)``.

    Parameters
    ----------
    y : bool (N,), both classes present
    s : float (N,), finite
    """
    order = np.argsort(-np.asarray(s, np.float64), kind="mergesort")
    s, y = np.asarray(s, np.float64)[order], np.asarray(y, bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]], np.r_[np.inf, s[last]]


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg)); ties count one half."""
    y = np.asarray(y, bool)
    ranks = rankdata(np.asarray(s, np.float64))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def partial_area(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> float:
    """Area under a ROC curve (``fpr`` ascending) for FPR in [0, max_fpr], not normalised.

    The curve is linearly interpolated at ``max_fpr`` between the last point at or below it and
    the next, as scikit-learn does before its McClish correction. Divided by ``max_fpr`` it is
    the DCASE pAUC (1 = perfect, ``max_fpr / 2`` = chance).
    """
    fpr, tpr = np.asarray(fpr, np.float64), np.asarray(tpr, np.float64)
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    if stop < len(fpr):
        y_end = np.interp(max_fpr, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])
    else:
        y_end = tpr[-1]
    return float(np.trapezoid(np.r_[tpr[:stop], y_end], np.r_[fpr[:stop], max_fpr]))


def mcclish_pauc(area: float, max_fpr: float) -> float:
    """McClish (1989) standardised partial AUC of a raw :func:`partial_area`.

    0.5 = chance, 1 = perfect: scikit-learn's ``roc_auc_score(max_fpr=...)``, what the DCASE
    2020-2023 baseline code computes. At ``max_fpr = 1`` it is the area itself (the AUC).
    """
    lo, hi = 0.5 * max_fpr**2, max_fpr
    return float(0.5 * (1.0 + (area - lo) / (hi - lo)))
