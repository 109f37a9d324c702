"""Event-level matching of detections to a ground-truth catalog.

Recall per class and per SNR bucket, precision, alarms per day and precision@k of detections
(merged anomalous windows) against the synthetic archive's events and faults. Pure: numpy and
pyarrow (through :mod:`aco_assets.scoring.tables`).

Dimension letters: M catalog rows, Q detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from aco_assets.scoring.evaluation import precision_at_k, truth_rows
from aco_assets.scoring.tables import Table, table_columns

#: Default SNR buckets (dB, lower bound inclusive, upper exclusive) for event-level recall.
SNR_BUCKETS_DB: tuple[tuple[float, float], ...] = (
    (-np.inf, 0.0),
    (0.0, 5.0),
    (5.0, 10.0),
    (10.0, 20.0),
    (20.0, np.inf),
)


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


def bucket_name(lo: float, hi: float) -> str:
    """The name of an SNR bucket: ``lt0dB``, ``0to5dB``, ..., ``ge20dB``."""
    if np.isinf(lo):
        return f"lt{hi:g}dB"
    if np.isinf(hi):
        return f"ge{lo:g}dB"
    return f"{lo:g}to{hi:g}dB"


def recall_table(groups: np.ndarray, detected: np.ndarray, names: Sequence[str]) -> dict:
    """``name -> {n_events, n_detected, recall}`` of the events whose group is ``name``."""
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
    Faults and glitch classes (see :data:`~aco_assets.synth.catalog.GLITCH_LABELS`) are not
    acoustic events: detections that match only them are counted in ``n_quality_detections``
    and as false in ``precision``.

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
    by_class = recall_table(ev_labels, event_is_detected, sorted(set(ev_labels)))
    bucket = np.full(len(ev_snr), "", object)
    names = []
    for lo, hi in snr_buckets_db:
        names.append(bucket_name(lo, hi))
        bucket[(ev_snr >= lo) & (ev_snr < hi)] = names[-1]
    by_snr = recall_table(bucket, event_is_detected, names)
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
