"""Window-level detection quality against a ground-truth catalog.

Pure building blocks of the ``evaluation`` asset: per-window ground truth from the synthetic
archive's catalog and the window-level ROC metrics (AUC, two pAUC conventions, average
precision, the operating point under the project's anomaly rule
:func:`~aco_assets.scoring.protocol.is_anomalous`), and precision@k. The event-level matching is
:mod:`aco_assets.scoring.event_matching`, the band-limited energy detector
:mod:`aco_assets.scoring.baselines`, the figures :mod:`aco_assets.reporting.evaluation_figures`.
The ROC arithmetic is :mod:`aco_assets.scoring.roc`. Imports numpy, scikit-learn and pyarrow only.

Dimension letters: N windows, M catalog rows.

All times are naive UTC, handled as ``datetime64[us]``. A "table" argument may be a
``pyarrow.Table``, a mapping of column name to 1-D array, or a sequence of row mappings
(:mod:`aco_assets.scoring.tables`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

from aco_assets.scoring.protocol import is_anomalous
from aco_assets.scoring.roc import mcclish_pauc, partial_area, roc_auc, roc_points
from aco_assets.scoring.tables import EvaluationError, Table, seconds, table_columns
from aco_assets.synth.catalog import GLITCH_LABELS

logger = logging.getLogger(__name__)

__all__ = [
    "EvaluationError",
    "GLITCH_LABELS",
    "Table",
    "WindowLabels",
    "partial_auc",
    "precision_at_k",
    "table_columns",
    "truth_rows",
    "window_labels",
    "window_metrics",
]


@dataclass(frozen=True)
class WindowLabels:
    """Per-window ground truth, all arrays (N,) in the order of the windows given.

    Attributes
    ----------
    is_event : bool, the window overlaps an acoustic catalog event (the positive class)
    label : str (object), label of the strongest overlapping acoustic event, "" if none
    snr_db : float64 dB, the largest band SNR among overlapping acoustic events, NaN if none
    event_id : int64, catalog ``event_id`` of that event, -1 if none
    is_quality : bool, the window overlaps a glitch or a fault row (scored separately)
    quality_label : str (object), label of the overlapping glitch or fault, "" if none
    """

    is_event: np.ndarray
    label: np.ndarray
    snr_db: np.ndarray
    event_id: np.ndarray
    is_quality: np.ndarray
    quality_label: np.ndarray

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns as a dict, e.g. to build a pyarrow table or a DuckDB insert."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def truth_rows(events: Table, faults: Table | None = None) -> dict[str, np.ndarray]:
    """Events and faults as one set of columns, with ``quality`` marking the data-quality rows.

    Parameters
    ----------
    events : the events table (``event_id, class, start_utc, end_utc, snr_db``; M rows)
    faults : the faults table (``class, start_utc, end_utc``; P rows), optional

    Returns
    -------
    dict of str to ndarray, each (M + P,): ``event_id`` (-1 for faults), ``class``,
    ``start_utc``, ``end_utc`` (datetime64[us]), ``snr_db`` (NaN for faults), ``quality``
    (True for faults and glitch classes).
    """
    ev = table_columns(
        events, ("event_id", "class", "start_utc", "end_utc", "snr_db"), name="events"
    )
    names = ("event_id", "class", "start_utc", "end_utc", "snr_db")
    cols = {k: ev[k] for k in names}
    cols["class"] = cols["class"].astype(str)
    cols["event_id"] = cols["event_id"].astype(np.int64)
    cols["snr_db"] = cols["snr_db"].astype(np.float64)
    quality = np.isin(cols["class"], list(GLITCH_LABELS))
    if faults is not None:
        f = table_columns(faults, ("class", "start_utc", "end_utc"), name="faults")
        n = len(f["class"])
        extra = {
            "event_id": np.full(n, -1, np.int64),
            "class": f["class"].astype(str),
            "start_utc": f["start_utc"],
            "end_utc": f["end_utc"],
            "snr_db": np.full(n, np.nan),
        }
        cols = {k: np.concatenate([cols[k], extra[k]]) for k in names}
        quality = np.concatenate([quality, np.ones(n, bool)])
    cols["quality"] = quality
    return cols


def window_labels(
    window_start: np.ndarray,
    window_end: np.ndarray,
    events: Table,
    faults: Table | None = None,
    *,
    min_overlap_s: float = 0.5,
) -> WindowLabels:
    """Ground truth of each analysis window from the archive's events and faults tables.

    A window and a catalog row overlap when their intersection lasts at least
    ``min(min_overlap_s, 0.5 * row duration)``, so a short event (an implosion of 50 ms) counts
    in the window that holds it, and an event split across two windows counts in both. Rows with
    the faults table and events of a glitch class (:data:`GLITCH_LABELS`) are data-quality truth:
    they set ``is_quality`` (``quality_label`` = their class), never ``is_event``.

    Parameters
    ----------
    window_start, window_end : datetime64 (N,), naive UTC, any order
    events : table with ``event_id, class, start_utc, end_utc, snr_db`` (``read_catalog``)
    faults : table with ``class, start_utc, end_utc`` (``read_faults``), optional
    min_overlap_s : seconds, see above

    Returns
    -------
    WindowLabels
    """
    starts = np.asarray(window_start).astype("datetime64[us]")
    ends = np.asarray(window_end).astype("datetime64[us]")
    if starts.shape != ends.shape or starts.ndim != 1:
        raise EvaluationError(f"window_start {starts.shape} and window_end {ends.shape} differ")
    cat = truth_rows(events, faults)
    n = len(starts)
    order = np.argsort(starts, kind="stable")
    s_sorted, e_sorted = starts[order], ends[order]
    e_cummax = np.maximum.accumulate(e_sorted) if n else e_sorted  # sorted upper bound of ends
    is_event, is_quality = np.zeros(n, bool), np.zeros(n, bool)
    label, quality_label = np.full(n, "", object), np.full(n, "", object)
    snr = np.full(n, np.nan)
    event_id = np.full(n, -1, np.int64)
    labels, quality = cat["class"], cat["quality"]
    snr_cat = cat["snr_db"]
    for m in range(len(labels)):
        c_start, c_end = cat["start_utc"][m], cat["end_utc"][m]
        i0 = np.searchsorted(e_cummax, c_start, side="right")
        i1 = np.searchsorted(s_sorted, c_end, side="left")
        if i1 <= i0:
            continue
        idx = np.arange(i0, i1)
        overlap_s = seconds(np.minimum(e_sorted[idx], c_end) - np.maximum(s_sorted[idx], c_start))
        need_s = min(min_overlap_s, 0.5 * seconds(c_end - c_start))
        hit = order[idx[overlap_s >= need_s - 1e-9]]
        if quality[m]:
            is_quality[hit] = True
            quality_label[hit] = str(labels[m])
            continue
        value = snr_cat[m] if np.isfinite(snr_cat[m]) else -np.inf
        stronger = hit[~is_event[hit] | (np.nan_to_num(snr[hit], nan=-np.inf) < value)]
        is_event[hit] = True
        label[stronger], snr[stronger] = str(labels[m]), snr_cat[m]
        event_id[stronger] = cat["event_id"][m]
    return WindowLabels(is_event, label, snr, event_id, is_quality, quality_label)


def _binary_inputs(scores: np.ndarray, labels: np.ndarray | WindowLabels) -> tuple:
    s = np.asarray(scores, dtype=np.float64)
    if isinstance(labels, WindowLabels):
        keep = ~labels.is_quality
        y = labels.is_event[keep]
        s = s[keep] if s.shape == labels.is_event.shape else s
    else:
        y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise EvaluationError(f"scores {s.shape} and labels {y.shape} must be equal 1-D shapes")
    if not np.all(np.isfinite(s)):
        raise EvaluationError(f"{int(np.sum(~np.isfinite(s)))} scores are NaN or infinite")
    return s, y


def partial_auc(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> float:
    """Area under the ROC curve for FPR in [0, max_fpr] (raw, not normalised).

    :func:`aco_assets.scoring.roc.partial_area`: the curve is linearly interpolated at
    ``max_fpr``, as scikit-learn does before the McClish correction. Divide by ``max_fpr`` for
    the DCASE pAUC; :func:`window_metrics` reports both.
    """
    return partial_area(fpr, tpr, max_fpr)


def window_metrics(
    scores: np.ndarray,
    labels: np.ndarray | WindowLabels,
    *,
    max_fpr: float = 0.1,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Window-level detection metrics of anomaly scores (higher = more anomalous).

    Parameters
    ----------
    scores : float (N,)
    labels : bool (N,) (True = acoustic event), or :class:`WindowLabels` (then windows with
        ``is_quality`` are left out: data-quality faults are scored separately)
    max_fpr : the false-positive-rate limit of the partial AUC and of the automatic operating point
    threshold : operating threshold, e.g. the model's; a window is flagged by the project's rule
        :func:`~aco_assets.scoring.protocol.is_anomalous` (``score > threshold``). None picks
        the ROC point with the largest FPR not above ``max_fpr`` and reports the threshold that
        flags it under that rule (the next lower distinct score, ``-inf`` below the lowest)

    Returns
    -------
    dict with
        ``auc``: ROC AUC; ``pauc_mcclish``: as ``roc_auc_score(max_fpr=...)``, the McClish (1989)
        standardised partial AUC, 0.5 = chance, 1 = perfect (what the DCASE 2020-2023 baseline
        code computes); ``pauc_normalized``: (1/max_fpr) * integral_0^max_fpr TPR dFPR, the
        DCASE task definition, chance = max_fpr / 2; ``average_precision``; ``threshold``,
        ``tpr``, ``fpr`` (the realised FPR at that threshold); ``n_windows``, ``n_positive``,
        ``max_fpr``; ``roc_fpr``, ``roc_tpr``, ``roc_thresholds`` (arrays). With one class only,
        the ranking metrics are NaN (logged as a warning).
    """
    if not 0.0 < max_fpr <= 1.0:
        raise EvaluationError(f"max_fpr must be in (0, 1], got {max_fpr}")
    s, y = _binary_inputs(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    out: dict[str, Any] = {"n_windows": len(y), "n_positive": n_pos, "max_fpr": max_fpr}
    nan = float("nan")
    if n_pos == 0 or n_neg == 0:
        logger.warning("only one class among %d windows (%d positive): no ROC", len(y), n_pos)
        out.update(auc=nan, pauc_mcclish=nan, pauc_normalized=nan, average_precision=nan)
        out.update(roc_fpr=np.array([]), roc_tpr=np.array([]), roc_thresholds=np.array([]))
    else:
        fpr, tpr, thr = roc_points(y, s)
        area = partial_area(fpr, tpr, max_fpr)
        out["auc"] = roc_auc(y, s)
        out["pauc_mcclish"] = mcclish_pauc(area, max_fpr)
        out["pauc_normalized"] = area / max_fpr
        out["average_precision"] = float(average_precision_score(y, s))
        out.update(roc_fpr=fpr, roc_tpr=tpr, roc_thresholds=thr)
        if threshold is None:
            i = int(np.searchsorted(fpr, max_fpr, side="right"))  # the point after the chosen one
            threshold = float(thr[i]) if i < len(thr) else -np.inf
    flagged = is_anomalous(s, threshold) if threshold is not None else np.zeros_like(y)
    out["threshold"] = nan if threshold is None else float(threshold)
    out["tpr"] = float(flagged[y].mean()) if n_pos else nan
    out["fpr"] = float(flagged[~y].mean()) if n_neg else nan
    return out


def precision_at_k(scores: np.ndarray, is_true: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """Share of true items among the ``k`` highest-scored, for each ``k``.

    With fewer than ``k`` items the share is over all of them; with none it is NaN. Ties are
    broken by input order (stable sort).

    Parameters
    ----------
    scores : float (Q,), higher ranks first
    is_true : bool (Q,), e.g. a detection matched a catalog event or a reviewer said "true_event"
    ks : the cut-offs
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(is_true, dtype=bool)
    if s.shape != t.shape:
        raise EvaluationError(f"scores {s.shape} and is_true {t.shape} differ in shape")
    ranked = t[np.argsort(-s, kind="stable")]
    return {int(k): float(ranked[:k].mean()) if len(ranked) else float("nan") for k in ks}
