"""Event-level metrics at a threshold, and the best event recall within a false-alarm budget.

At a threshold (rule :func:`~aco_assets.scoring.protocol.is_anomalous`, ``score > threshold``) flagged
steps merge into episodes (:func:`~aco_assets.yardstick.intervals.episodes`, gap
``max_gap_s``, by default the project's :data:`~aco_assets.scoring.protocol.EPISODE_GAP_S`; pieces of at
most ``max_episode_s``). Fault steps take part (a glitch is flagged like anything else), then:

- an episode **detects** an event when they overlap by the step rule (at least
  ``min(min_overlap_s, 0.5 * event duration)``); it is **true** when it detects any event;
- an episode that is not true but touches an event (shares a time or an end point with it, less
  than the step rule: the edge of a call flagged in a step that holds 0.4 s of it) is a
  **partial episode**; one that touches no event but a fault is a **fault episode**; both are
  reported apart, and every other episode, touching no catalogued event and no fault, is a
  **false alarm**;
- **recall** is over the evaluated events (those overlapping a non-fault step); **precision**
  is ``true / (true + false alarms)``; **audio hours** are the union of the non-fault steps'
  spans; false alarms per hour divide by them.

Dimension letters: S steps, E events, Q episodes, C candidate thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from aco_assets.scoring.event_matching import SNR_BUCKETS_DB
from aco_assets.scoring.event_matching import bucket_name as _bucket_name
from aco_assets.scoring.event_matching import recall_table as _recall_table
from aco_assets.scoring.protocol import EPISODE_GAP_S, is_anomalous
from aco_assets.scoring.tables import EvaluationError
from aco_assets.yardstick.intervals import Episodes, _merge, overlap_pairs, union_seconds
from aco_assets.yardstick.ranking import checked_scores
from aco_assets.yardstick.truth import StepTruth

#: Longest episode, s: a flagged stretch longer than this counts one alarm per started piece.
MAX_EPISODE_S = 60.0


@dataclass(frozen=True)
class OperatingPoint:
    """Event-level results at one threshold (definitions in the module docstring).

    ``recall_by_class`` and ``recall_by_snr`` map a class or SNR bucket name (as
    :func:`aco_assets.scoring.evaluation.match_events`: ``lt0dB``, ``0to5dB``, ..., ``ge20dB``) to
    ``{"n_events", "n_detected", "recall"}``.
    """

    threshold: float
    recall: float
    n_events: int
    n_detected: int
    n_episodes: int
    n_true_episodes: int
    n_false_alarms: int
    n_fault_episodes: int
    n_partial_episodes: int
    audio_hours: float
    false_alarms_per_hour: float
    precision: float
    flagged_hours: float
    recall_by_class: dict[str, dict[str, float]]
    recall_by_snr: dict[str, dict[str, float]]
    event_is_detected: np.ndarray = field(repr=False)

    def summary(self, prefix: str = "") -> dict[str, float]:
        """Flat ``name -> number`` dict, e.g. for ``mlflow.log_metrics``."""
        keys = ("threshold", "recall", "false_alarms_per_hour", "precision", "n_false_alarms")
        out = {f"{prefix}{k}": float(getattr(self, k)) for k in keys}
        for name, r in self.recall_by_class.items():
            out[f"{prefix}recall_{name}"] = r["recall"]
        for name, r in self.recall_by_snr.items():
            out[f"{prefix}recall_snr_{name}"] = r["recall"]
        return out


@dataclass(frozen=True)
class _Context:
    """What every threshold of one method shares: scores, truth, step order, audio hours."""

    scores: np.ndarray
    truth: StepTruth
    time_order: np.ndarray
    audio_hours: float
    max_gap_s: float
    max_episode_s: float | None


def _context(
    scores: np.ndarray, truth: StepTruth, max_gap_s: float, max_episode_s: float | None
) -> _Context:
    s = checked_scores(scores, truth)
    order = np.argsort(truth.start_utc, kind="stable")
    keep = ~truth.is_fault
    hours = union_seconds(truth.start_utc[keep], truth.end_utc[keep]) / 3600.0
    return _Context(s, truth, order, hours, max_gap_s, max_episode_s)


def _match(
    ctx: _Context, threshold: float
) -> tuple[Episodes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Episodes at ``threshold``; event detected (E,), and per episode (Q,): true, partial (touches
    an event it does not detect), on a fault (touches no event)."""
    t, ev, ft = ctx.truth, ctx.truth.events, ctx.truth.faults
    idx = ctx.time_order[is_anomalous(ctx.scores[ctx.time_order], threshold)]
    ep = _merge(idx, t.start_utc, t.end_utc, ctx.scores, ctx.max_gap_s, ctx.max_episode_s)
    q, e = overlap_pairs(
        ep.start_utc, ep.end_utc, ev["start_utc"], ev["end_utc"], min_overlap_s=ev["need_s"]
    )
    detected = np.zeros(ev["event_id"].size, bool)
    detected[e] = True
    true = np.zeros(len(ep), bool)
    true[q] = True
    touches = np.zeros(len(ep), bool)
    touches[
        overlap_pairs(ep.start_utc, ep.end_utc, ev["start_utc"], ev["end_utc"], closed=True)[0]
    ] = True
    on_fault = np.zeros(len(ep), bool)
    on_fault[
        overlap_pairs(ep.start_utc, ep.end_utc, ft["start_utc"], ft["end_utc"], closed=True)[0]
    ] = True
    partial = touches & ~true
    return ep, detected & t.event_evaluated, true, partial, on_fault & ~touches


def _snr_bucket(snr_db: np.ndarray, buckets: Sequence[tuple[float, float]]) -> tuple:
    names = [_bucket_name(lo, hi) for lo, hi in buckets]
    out = np.full(snr_db.size, "", object)
    for name, (lo, hi) in zip(names, buckets, strict=True):
        out[(snr_db >= lo) & (snr_db < hi)] = name
    return out, names


def _point(
    ctx: _Context, threshold: float, snr_buckets_db: Sequence[tuple[float, float]]
) -> OperatingPoint:
    ep, detected, true, partial, on_fault = _match(ctx, threshold)
    ev, evaluated = ctx.truth.events, ctx.truth.event_evaluated
    n_true, n_fault, n_partial = int(true.sum()), int(on_fault.sum()), int(partial.sum())
    n_false = len(ep) - n_true - n_fault - n_partial
    n_events, n_detected = int(evaluated.sum()), int(detected.sum())
    classes, hit = ev["class"][evaluated], detected[evaluated]
    buckets, names = _snr_bucket(ev["snr_db"][evaluated], snr_buckets_db)
    acoustic = ~on_fault
    flagged_s = union_seconds(ep.start_utc[acoustic], ep.end_utc[acoustic])
    hours = ctx.audio_hours
    return OperatingPoint(
        threshold=float(threshold),
        recall=n_detected / n_events if n_events else np.nan,
        n_events=n_events,
        n_detected=n_detected,
        n_episodes=len(ep),
        n_true_episodes=n_true,
        n_false_alarms=n_false,
        n_fault_episodes=n_fault,
        n_partial_episodes=n_partial,
        audio_hours=hours,
        false_alarms_per_hour=n_false / hours if hours > 0 else np.nan,
        precision=n_true / (n_true + n_false) if n_true + n_false else np.nan,
        flagged_hours=flagged_s / 3600.0,
        recall_by_class=_recall_table(classes, hit, sorted(set(classes))),
        recall_by_snr=_recall_table(buckets, hit, names),
        event_is_detected=detected,
    )


def operating_point(
    scores: np.ndarray,
    truth: StepTruth,
    threshold: float,
    *,
    max_gap_s: float = EPISODE_GAP_S,
    max_episode_s: float | None = MAX_EPISODE_S,
    snr_buckets_db: Sequence[tuple[float, float]] = SNR_BUCKETS_DB,
) -> OperatingPoint:
    """Episodes, recall (overall, per class, per SNR bucket) and false alarms at ``threshold``.

    Parameters
    ----------
    scores : float (S,), higher = more anomalous; NaN only on fault steps
    truth : :func:`~aco_assets.yardstick.truth.step_truth` of the same steps
    threshold : float, the rule is ``score > threshold``
    max_gap_s : float, s, episode merge gap (the detections' rule by default)
    max_episode_s : float, s, longest episode; None: no limit (an archive flagged end to end
        would otherwise be a handful of "true" episodes and no false alarm)
    snr_buckets_db : (low, high) dB buckets, low inclusive

    Returns
    -------
    OperatingPoint
    """
    return _point(_context(scores, truth, max_gap_s, max_episode_s), threshold, snr_buckets_db)


def candidate_thresholds(scores: np.ndarray, *, max_candidates: int = 400) -> np.ndarray:
    """Thresholds worth trying, float64 (C,), descending, the first flagging nothing.

    Every distinct finite score is a candidate (``score > candidate`` flags the steps above it)
    when there are at most ``max_candidates``; otherwise the highest ``max_candidates // 2``
    distinct scores and ``max_candidates // 2`` more at geometrically spaced ranks down to the
    lowest score (the budget is met near the top; the tail only shows where it is not).
    """
    u = np.unique(scores[np.isfinite(scores)])[::-1]  # (U,) descending
    if u.size <= max_candidates:
        return u
    head = max_candidates // 2
    ranks = np.geomspace(head, u.size - 1, max_candidates - head).astype(np.int64)
    return u[np.unique(np.r_[np.arange(head), ranks])]


def recall_at_budget(
    scores: np.ndarray,
    truth: StepTruth,
    *,
    budget_per_hour: float = 1.0,
    max_gap_s: float = EPISODE_GAP_S,
    max_episode_s: float | None = MAX_EPISODE_S,
    max_candidates: int = 400,
    snr_buckets_db: Sequence[tuple[float, float]] = SNR_BUCKETS_DB,
) -> OperatingPoint:
    """The best event recall with at most ``budget_per_hour`` false alarms per audio hour.

    The false-alarm count is not monotone in the threshold (episodes merge as it falls), so every
    :func:`candidate_thresholds` value is evaluated and the one of highest recall among those
    within the budget is kept (ties: fewer false alarms, then the higher threshold). The highest
    candidate flags nothing, so a point always exists. Cost: C episode matchings of
    ``O(S + (Q + E) log Q)`` each.

    Parameters
    ----------
    scores, truth, max_gap_s, max_episode_s, snr_buckets_db : as :func:`operating_point`
    budget_per_hour : float, false alarms per audio hour, >= 0
    max_candidates : int, C, thresholds tried

    Returns
    -------
    OperatingPoint at the chosen threshold
    """
    if not budget_per_hour >= 0:
        raise EvaluationError(f"budget_per_hour must be >= 0, got {budget_per_hour}")
    ctx = _context(scores, truth, max_gap_s, max_episode_s)
    allowed = budget_per_hour * ctx.audio_hours
    best, best_key = np.inf, (-1, 0)
    for thr in candidate_thresholds(ctx.scores, max_candidates=max_candidates):
        ep, detected, true, partial, on_fault = _match(ctx, thr)
        n_false = len(ep) - int(true.sum()) - int(partial.sum()) - int(on_fault.sum())
        key = (int(detected.sum()), -n_false)
        if n_false <= allowed + 1e-9 and key > best_key:
            best, best_key = float(thr), key
    return _point(ctx, best, snr_buckets_db)
