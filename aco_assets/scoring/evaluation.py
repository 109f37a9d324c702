"""Detection quality against a ground-truth catalog, and the classic baseline detector.

Pure building blocks for the ``evaluation`` asset: per-window ground truth from the synthetic
archive's catalog, window-level ROC metrics (AUC, two pAUC conventions, average precision, the
operating point), event-level matching of detections (recall per class and per SNR bucket,
precision, alarms per day, precision@k), a band-limited energy detector to compare against, and
the ROC / per-class figures. Imports numpy, scipy, scikit-learn, pyarrow and matplotlib only.

Dimension letters: N windows, M catalog rows, Q detections, B bands.

All times are naive UTC, handled as ``datetime64[us]``. A "table" argument may be a
``pyarrow.Table``, a mapping of column name to 1-D array, or a sequence of row mappings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from matplotlib.figure import Figure
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

logger = logging.getLogger(__name__)

#: Event classes that are data-quality glitches, not acoustic events (older catalogs listed the
#: glitches among the events; the synthetic archive now writes them to its faults table).
GLITCH_LABELS: frozenset[str] = frozenset({"glitch_dropout", "glitch_spike", "glitch_dc_step"})
#: Default SNR buckets (dB, lower bound inclusive, upper exclusive) for event-level recall.
SNR_BUCKETS_DB: tuple[tuple[float, float], ...] = (
    (-np.inf, 0.0),
    (0.0, 5.0),
    (5.0, 10.0),
    (10.0, 20.0),
    (20.0, np.inf),
)

Table = pa.Table | Mapping[str, Any] | Sequence[Mapping[str, Any]]


class EvaluationError(ValueError):
    """Raised for inputs the evaluation cannot use (missing columns, mismatched lengths, NaN)."""


def table_columns(table: Table, required: Sequence[str], *, name: str) -> dict[str, np.ndarray]:
    """Return the ``required`` columns of a table as 1-D numpy arrays.

    Parameters
    ----------
    table : pyarrow.Table, mapping of str to array-like, or sequence of row mappings
    required : column names that must be present
    name : what the table is, for error messages (e.g. ``"catalog"``)

    Returns
    -------
    dict of str to ndarray, each (n_rows,); timestamp columns as ``datetime64[us]``.
    """
    if isinstance(table, pa.Table):
        cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    elif isinstance(table, Mapping):
        cols = {c: np.asarray(v) for c, v in table.items()}
    else:
        rows = list(table)
        keys = set(required) | (set(rows[0]) if rows else set())
        cols = {c: np.asarray([r.get(c) for r in rows]) for c in keys}
    missing = [c for c in required if c not in cols]
    if missing:
        raise EvaluationError(f"{name} lacks column(s) {missing}; it has {sorted(cols)}")
    out = {}
    for c in cols:
        v = cols[c]
        if c.endswith("_utc") or c.startswith("window_"):
            v = _as_datetime64(v, column=c, name=name)
        out[c] = v
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise EvaluationError(f"{name} columns have different lengths {sorted(lengths)}")
    return out


def _as_datetime64(v: np.ndarray, *, column: str, name: str) -> np.ndarray:
    try:
        return np.asarray(v).astype("datetime64[us]")
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"{name} column {column!r} is not a time column: {v[:3]!r}") from e


def _seconds(td: np.ndarray) -> np.ndarray:
    return td.astype("timedelta64[us]").astype(np.float64) / 1e6


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
        overlap_s = _seconds(np.minimum(e_sorted[idx], c_end) - np.maximum(s_sorted[idx], c_start))
        need_s = min(min_overlap_s, 0.5 * _seconds(c_end - c_start))
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

    The curve is linearly interpolated at ``max_fpr``, as scikit-learn does before the McClish
    correction. Divide by ``max_fpr`` for the DCASE pAUC; :func:`window_metrics` reports both.
    """
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    x = np.concatenate([fpr[:stop], [max_fpr]])
    if stop < len(fpr):
        y_end = np.interp(max_fpr, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])
    else:
        y_end = tpr[-1]
    y = np.concatenate([tpr[:stop], [y_end]])
    return float(np.trapezoid(y, x))


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
    threshold : operating threshold (a window is flagged when ``score >= threshold``), e.g. the
        model's; None picks the ROC point with the largest FPR not above ``max_fpr``

    Returns
    -------
    dict with
        ``auc``: ROC AUC; ``pauc_mcclish``: ``roc_auc_score(max_fpr=...)``, the McClish (1989)
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
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        out["auc"] = float(roc_auc_score(y, s))
        out["pauc_mcclish"] = float(roc_auc_score(y, s, max_fpr=max_fpr))
        out["pauc_normalized"] = partial_auc(fpr, tpr, max_fpr) / max_fpr
        out["average_precision"] = float(average_precision_score(y, s))
        out.update(roc_fpr=fpr, roc_tpr=tpr, roc_thresholds=thr)
        if threshold is None:
            i = int(np.searchsorted(fpr, max_fpr, side="right")) - 1
            threshold = float(thr[i])
    flagged = s >= threshold if threshold is not None else np.zeros_like(y)
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


@dataclass(frozen=True)
class EventMatch:
    """Event-level comparison of detections with the catalog (see :func:`match_events`)."""

    n_events: int
    n_detected: int
    recall: float
    recall_by_class: dict[str, dict[str, float]]
    recall_by_snr: dict[str, dict[str, float]]
    n_detections: int
    n_true_detections: int
    n_quality_detections: int
    precision: float
    alarms_per_day: float
    false_alarms_per_day: float
    precision_at_k: dict[int, float]
    detection_is_true: np.ndarray = field(repr=False)
    event_is_detected: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, float]:
        """Flat ``name -> number`` dict, e.g. for ``mlflow.log_metrics``."""
        out = {
            "event_recall": self.recall,
            "detection_precision": self.precision,
            "alarms_per_day": self.alarms_per_day,
            "false_alarms_per_day": self.false_alarms_per_day,
            "n_events": float(self.n_events),
            "n_detections": float(self.n_detections),
        }
        for name, r in self.recall_by_class.items():
            out[f"recall_{name}"] = r["recall"]
        for name, r in self.recall_by_snr.items():
            out[f"recall_snr_{name}"] = r["recall"]
        out.update({f"precision_at_{k}": v for k, v in self.precision_at_k.items()})
        return out


def _bucket_name(lo: float, hi: float) -> str:
    if np.isinf(lo):
        return f"lt{hi:g}dB"
    if np.isinf(hi):
        return f"ge{lo:g}dB"
    return f"{lo:g}to{hi:g}dB"


def _recall_table(groups: np.ndarray, detected: np.ndarray, names: Sequence[str]) -> dict:
    table = {}
    for name in names:
        sel = groups == name
        n = int(sel.sum())
        hit = int(detected[sel].sum())
        table[name] = {"n_events": n, "n_detected": hit, "recall": hit / n if n else float("nan")}
    return table


def match_events(
    detections: Table,
    events: Table,
    faults: Table | None = None,
    *,
    tolerance_s: float = 2.0,
    n_days: float | None = None,
    ks: Sequence[int] = (10, 50, 100),
    snr_buckets_db: Sequence[tuple[float, float]] = SNR_BUCKETS_DB,
) -> EventMatch:
    """Match detections (merged anomalous windows) to catalog events.

    A detection and an acoustic event match when the detection, widened by ``tolerance_s`` on
    both sides, overlaps the event. An event is recalled when any detection matches it (so one
    detection can recall two events); a detection is true when it matches any acoustic event.
    Faults and glitch classes (see :data:`GLITCH_LABELS`) are not acoustic events: detections
    that match only them are counted in ``n_quality_detections`` and as false in ``precision``.

    Parameters
    ----------
    detections : table with ``start_utc, end_utc, peak_score`` (Q rows)
    events : the events table (``event_id, class, start_utc, end_utc, snr_db``; M rows)
    faults : the faults table (``class, start_utc, end_utc``), optional
    tolerance_s : seconds of slack on each side of a detection
    n_days : days of audio analysed, for alarms per day; None uses the number of distinct UTC
        dates among detections and catalog rows (a lower bound: pass it when known)
    ks : cut-offs for precision@k (detections ranked by ``peak_score``)
    snr_buckets_db : (low, high) dB buckets for recall by SNR

    Returns
    -------
    EventMatch
    """
    det = table_columns(detections, ("start_utc", "end_utc", "peak_score"), name="detections")
    cat = truth_rows(events, faults)
    tol = np.timedelta64(int(round(tolerance_s * 1e6)), "us")
    d_start, d_end = det["start_utc"] - tol, det["end_utc"] + tol  # (Q,)
    labels, acoustic = cat["class"], ~cat["quality"]  # (M,)
    # (Q, M) overlap matrix: detections per day and catalog rows are both small.
    overlap = (d_start[:, None] < cat["end_utc"][None, :]) & (d_end[:, None] > cat["start_utc"])
    detection_is_true = (overlap & acoustic[None, :]).any(axis=1)  # (Q,)
    quality = (overlap & ~acoustic[None, :]).any(axis=1) & ~detection_is_true
    event_is_detected = overlap[:, acoustic].any(axis=0)  # (M_acoustic,)
    ev_labels, ev_snr = labels[acoustic], cat["snr_db"][acoustic].astype(np.float64)
    by_class = _recall_table(ev_labels, event_is_detected, sorted(set(ev_labels)))
    bucket = np.full(len(ev_snr), "", object)
    names = []
    for lo, hi in snr_buckets_db:
        names.append(_bucket_name(lo, hi))
        bucket[(ev_snr >= lo) & (ev_snr < hi)] = names[-1]
    by_snr = _recall_table(bucket, event_is_detected, names)
    if n_days is None:
        dates = np.concatenate([det["start_utc"], cat["start_utc"]]).astype("datetime64[D]")
        n_days = float(max(len(np.unique(dates)), 1))
    q, n_true, n_ev = len(detection_is_true), int(detection_is_true.sum()), int(acoustic.sum())
    return EventMatch(
        n_events=n_ev,
        n_detected=int(event_is_detected.sum()),
        recall=float(event_is_detected.mean()) if n_ev else float("nan"),
        recall_by_class=by_class,
        recall_by_snr=by_snr,
        n_detections=q,
        n_true_detections=n_true,
        n_quality_detections=int(quality.sum()),
        precision=n_true / q if q else float("nan"),
        alarms_per_day=q / n_days,
        false_alarms_per_day=(q - n_true) / n_days,
        precision_at_k=precision_at_k(det["peak_score"], detection_is_true, ks),
        detection_is_true=detection_is_true,
        event_is_detected=event_is_detected,
    )


@dataclass(frozen=True)
class EnergyDetection:
    """Scores of the band-limited energy detector, arrays (N,) unless noted.

    Attributes
    ----------
    score : float64 dB, the largest excess of a band level over its noise floor
    band : str (object), the band giving the score ("" where every band is NaN)
    excess_db : dict band -> float64 (N,) dB, level minus floor per band
    floor_db : dict band -> float64 dB, scalar or (N,) with a trailing reference
    """

    score: np.ndarray
    band: np.ndarray
    excess_db: dict[str, np.ndarray]
    floor_db: dict[str, np.ndarray]


def energy_detector_scores(
    levels_db: Mapping[str, np.ndarray],
    *,
    reference: Mapping[str, np.ndarray] | None = None,
    floor_percentile: float = 50.0,
    trailing_windows: int | None = None,
) -> EnergyDetection:
    """The classic band-limited energy detector, as a per-window score.

    Raven Pro's band-limited energy detector and PAMGuard's click/whistle triggers compare the
    energy in a frequency band with a running estimate of the background noise in that band and
    fire when the excess (an SNR in dB) passes a threshold (Raven Pro 1.6 manual, ch. 9; Mellinger
    & Bradbury 2007). Here, per band ``b``: ``excess_b = level_b - floor_b`` where ``floor_b`` is
    the ``floor_percentile`` (50 = median, Raven's default noise estimator is a percentile too) of
    the band level over the reference windows; the window score is ``max_b excess_b``.

    Parameters
    ----------
    levels_db : band name -> float (N,) band level in dB (e.g. ``level_low_db``); NaN = no data
    reference : band name -> float (R,) levels of reference windows (e.g. the typical windows)
        giving a fixed floor; None uses all ``levels_db`` windows
    floor_percentile : percentile of the reference levels taken as the noise floor
    trailing_windows : if set (and ``reference`` is None), the floor of window i is the
        percentile over windows ``i - trailing_windows + 1 .. i`` in the given order (a causal
        running floor that follows slow changes, as Raven's noise block does); NaN levels in the
        trailing block are treated as the block's edge value

    Returns
    -------
    EnergyDetection
    """
    if not levels_db:
        raise EvaluationError("levels_db is empty: give at least one band")
    names = list(levels_db)
    levels = {b: np.asarray(levels_db[b], dtype=np.float64) for b in names}
    n = {b: v.shape for b, v in levels.items()}
    if len(set(n.values())) != 1:
        raise EvaluationError(f"band level arrays differ in shape: {n}")
    excess, floor = {}, {}
    for b in names:
        if reference is not None:
            if b not in reference:
                raise EvaluationError(f"reference lacks band {b!r}; it has {sorted(reference)}")
            floor[b] = np.nanpercentile(np.asarray(reference[b], float), floor_percentile)
        elif trailing_windows:
            filled = _fill_nan_nearest(levels[b])
            # origin shifts the filter so that window i sees i-size+1 .. i (causal).
            floor[b] = ndimage.percentile_filter(
                filled,
                floor_percentile,
                size=trailing_windows,
                mode="nearest",
                origin=(trailing_windows - 1) // 2,
            )
        else:
            floor[b] = np.nanpercentile(levels[b], floor_percentile)
        excess[b] = levels[b] - floor[b]
    stacked = np.stack([excess[b] for b in names])  # (B, N)
    valid = np.isfinite(stacked).any(axis=0)  # (N,)
    filled = np.where(np.isfinite(stacked), stacked, -np.inf)
    best = np.argmax(filled, axis=0)  # (N,)
    score = np.where(valid, np.max(filled, axis=0), np.nan)
    band = np.where(valid, np.asarray(names, dtype=object)[best], "")
    return EnergyDetection(score=score, band=band, excess_db=excess, floor_db=floor)


def _fill_nan_nearest(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x
    idx = np.where(ok, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    first = np.flatnonzero(ok)[0]
    out[:first] = x[first]
    return out


def roc_figure(
    results: Mapping[str, Mapping[str, Any]], *, max_fpr: float = 0.1, title: str = ""
) -> Figure:
    """ROC curves of several detectors side by side: full range and the FPR <= max_fpr zoom.

    Parameters
    ----------
    results : detector name -> the dict of :func:`window_metrics`
    max_fpr : the zoomed panel's FPR limit
    """
    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    ax_full, ax_zoom = fig.subplots(1, 2)
    for name, r in results.items():
        label = f"{name} (AUC {r['auc']:.3f}, pAUC {r['pauc_mcclish']:.3f})"
        for ax in (ax_full, ax_zoom):
            (line,) = ax.plot(r["roc_fpr"], r["roc_tpr"], label=label, lw=1.4)
        if np.isfinite(r.get("fpr", np.nan)):
            ax_zoom.plot(r["fpr"], r["tpr"], "o", color=line.get_color(), ms=5)
    ax_full.plot([0, 1], [0, 1], ":", color="0.6", lw=1)
    ax_full.axvline(max_fpr, color="0.6", lw=0.8, ls="--")
    ax_zoom.set_xlim(0, max_fpr)
    ax_zoom.set_ylim(0, 1)
    for ax, sub in ((ax_full, "ROC"), (ax_zoom, f"FPR <= {max_fpr:g} (dot: operating point)")):
        ax.set_xlabel("false positive rate (windows)")
        ax.set_ylabel("true positive rate (windows)")
        ax.set_title(sub, fontsize=10)
        ax.grid(alpha=0.3)
    ax_full.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def per_class_figure(matches: Mapping[str, EventMatch], *, title: str = "") -> Figure:
    """Event recall per class and per SNR bucket, one bar group per detector.

    Parameters
    ----------
    matches : detector name -> :class:`EventMatch`
    """
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=(3, 2))
    width = 0.8 / max(len(matches), 1)
    for ax, attr, xlabel in (
        (axes[0], "recall_by_class", "event class"),
        (axes[1], "recall_by_snr", "band SNR"),
    ):
        groups = sorted({g for m in matches.values() for g in getattr(m, attr)})
        if attr == "recall_by_snr" and matches:
            groups = list(getattr(next(iter(matches.values())), attr))
        x = np.arange(len(groups))
        for i, (name, m) in enumerate(matches.items()):
            table = getattr(m, attr)
            rec = [table.get(g, {}).get("recall", np.nan) for g in groups]
            ax.bar(x + (i - (len(matches) - 1) / 2) * width, np.nan_to_num(rec), width, label=name)
        counts = [
            next((getattr(m, attr).get(g, {}).get("n_events", 0) for m in matches.values()), 0)
            for g in groups
        ]
        ax.set_xticks(x, [f"{g}\n(n={c})" for g, c in zip(groups, counts, strict=True)], fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("event recall")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
