"""Time intervals: overlaps between steps and catalog rows, episodes of flagged steps, audio hours.

All times are naive UTC ``datetime64[us]``; durations are float seconds.

Dimension letters: S steps, E events (or any catalog rows), P overlapping pairs, Q episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aco_assets.scoring.protocol import episode_starts, is_anomalous
from aco_assets.scoring.tables import EvaluationError

__all__ = ["Episodes", "check_spans", "episodes", "is_anomalous", "overlap_pairs", "union_seconds"]

_US = 1e6


def as_utc(values: np.ndarray, *, name: str) -> np.ndarray:
    """``values`` as a 1-D ``datetime64[us]`` array; EvaluationError if they are not times."""
    try:
        out = np.asarray(values).astype("datetime64[us]")
    except (TypeError, ValueError) as e:
        raise EvaluationError(
            f"{name} is not a datetime64 array: {np.asarray(values)[:3]!r}"
        ) from e
    if out.ndim != 1:
        raise EvaluationError(f"{name} must be 1-D, got shape {out.shape}")
    return out


def check_spans(start_utc: np.ndarray, end_utc: np.ndarray, *, name: str = "steps") -> tuple:
    """Both bounds as ``datetime64[us]`` (S,), checked for equal shapes and ``end >= start``."""
    start, end = (
        as_utc(start_utc, name=f"{name} start_utc"),
        as_utc(end_utc, name=f"{name} end_utc"),
    )
    if start.shape != end.shape:
        raise EvaluationError(f"{name}: start_utc {start.shape} and end_utc {end.shape} differ")
    bad = np.flatnonzero(end < start)
    if bad.size:
        raise EvaluationError(
            f"{name}: {bad.size} span(s) end before they start, first {start[bad[0]]}"
        )
    return start, end


def overlap_pairs(
    a_start: np.ndarray,
    a_end: np.ndarray,
    b_start: np.ndarray,
    b_end: np.ndarray,
    *,
    min_overlap_s: np.ndarray | float = 0.0,
    closed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a, b) of spans whose intersection lasts at least ``min_overlap_s[b]``.

    ``O((A + B) log A + P)``: the ``a`` spans are sorted once and each ``b`` span's candidates
    are a contiguous range found by binary search (any order and any span lengths).

    Parameters
    ----------
    a_start, a_end : datetime64[us] (A,), e.g. steps
    b_start, b_end : datetime64[us] (E,), e.g. events
    min_overlap_s : float or float (E,), s; with 0 and ``closed=False`` a positive overlap is
        needed, with ``closed=True`` touching spans (a shared end point) pair as well
    closed : see above

    Returns
    -------
    ia, ib : int64 (P,), indices into ``a`` and ``b``, sorted by ``ia`` then ``ib``
    """
    order = np.argsort(a_start, kind="stable")  # (A,)
    s_sorted, e_sorted = a_start[order], a_end[order]
    e_cummax = np.maximum.accumulate(e_sorted) if len(order) else e_sorted
    lo = np.searchsorted(e_cummax, b_start, side="left" if closed else "right")  # (E,)
    hi = np.searchsorted(s_sorted, b_end, side="right" if closed else "left")  # (E,)
    counts = np.maximum(hi - lo, 0)
    ib = np.repeat(np.arange(len(b_start)), counts)  # (P',)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + lo[ib]
    ia = order[pos]
    inter_s = (np.minimum(a_end[ia], b_end[ib]) - np.maximum(a_start[ia], b_start[ib])).astype(
        np.float64
    ) / _US
    need = np.broadcast_to(np.asarray(min_overlap_s, dtype=np.float64), b_start.shape)[ib]
    keep = inter_s >= need - 1e-9 if closed else (inter_s > 0) & (inter_s >= need - 1e-9)
    ia, ib = ia[keep], ib[keep]
    sort = np.lexsort((ib, ia))
    return ia[sort].astype(np.int64), ib[sort].astype(np.int64)


def union_seconds(start_utc: np.ndarray, end_utc: np.ndarray) -> float:
    """Total length, s, of the union of the spans (overlaps counted once)."""
    if len(start_utc) == 0:
        return 0.0
    order = np.argsort(start_utc, kind="stable")
    s, e = start_utc[order], np.maximum.accumulate(end_utc[order])
    covered_to = np.concatenate([[s[0]], e[:-1]])  # end of the union so far, before span i
    gain = np.maximum(e - np.maximum(s, covered_to), np.timedelta64(0, "us"))
    gain[0] = e[0] - s[0]
    return float(gain.astype(np.float64).sum() / _US)


@dataclass(frozen=True)
class Episodes:
    """Runs of flagged steps merged in time, arrays (Q,) in time order.

    Attributes
    ----------
    start_utc, end_utc : datetime64[us], the union of the member steps' spans
    peak_score : float64, the largest member score (NaN without scores)
    peak_index : int64, index (into the arrays given) of the peak step (the first member
        without scores)
    n_steps : int64, member steps
    step_episode : int64 (S,), episode of each step given, -1 for unflagged steps
    """

    start_utc: np.ndarray
    end_utc: np.ndarray
    peak_score: np.ndarray
    peak_index: np.ndarray
    n_steps: np.ndarray
    step_episode: np.ndarray

    def __len__(self) -> int:
        return len(self.start_utc)


def episodes(
    flags: np.ndarray,
    start_utc: np.ndarray,
    end_utc: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    max_gap_s: float = 0.0,
    max_duration_s: float | None = None,
) -> Episodes:
    """Merge flagged steps into episodes.

    Flagged steps are taken in start order; a step joins the current episode when it starts no
    later than ``max_gap_s`` after the episode's end so far (the latest end of its members), so
    steps that overlap (5 s windows every 1 s) or touch (end == next start) merge, and a step
    inside a longer one does not split it. Unflagged steps between flagged ones do not matter:
    only the time spans do. With ``max_duration_s``, an episode is then cut into pieces: piece
    ``k`` holds the members starting in ``[t0 + k * max_duration_s, t0 + (k + 1) * ...)`` from
    the episode's start ``t0`` (a reviewer's alarm is a clip of bounded length).

    Parameters
    ----------
    flags : bool (S,), e.g. :func:`is_anomalous` of the scores
    start_utc, end_utc : datetime64[us] (S,), any order, may overlap, from several files/days
    scores : float (S,), optional, for the peak of each episode
    max_gap_s : float, s, largest gap bridged between two flagged steps
    max_duration_s : float, s, optional, longest episode (see above); None: no limit

    Returns
    -------
    Episodes
    """
    start, end = check_spans(start_utc, end_utc)
    f = np.asarray(flags, dtype=bool)
    s = None if scores is None else np.asarray(scores, dtype=np.float64)
    if f.shape != start.shape or (s is not None and s.shape != start.shape):
        shapes = f"flags {f.shape}, scores {None if s is None else s.shape}"
        raise EvaluationError(f"{shapes} and start_utc {start.shape} must be equal 1-D shapes")
    if max_gap_s < 0 or (max_duration_s is not None and max_duration_s <= 0):
        raise EvaluationError(
            f"need max_gap_s >= 0 and max_duration_s > 0, got {max_gap_s}, {max_duration_s}"
        )
    idx = np.flatnonzero(f)
    idx = idx[np.argsort(start[idx], kind="stable")]  # (n,) flagged steps in start order
    return _merge(idx, start, end, s, max_gap_s, max_duration_s)


def _merge(
    idx: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    scores: np.ndarray | None,
    max_gap_s: float,
    max_duration_s: float | None = None,
) -> Episodes:
    """Episodes of the steps ``idx`` (already in start order)."""
    st, en = start[idx], end[idx]
    # (n,) which steps open an episode: the protocol's rule, shared with detections and budget
    new = episode_starts(
        st.astype(np.int64), en.astype(np.int64), max_gap_s=max_gap_s, max_episode_s=max_duration_s
    )
    first = np.flatnonzero(new)  # (Q,)
    label = np.cumsum(new) - 1  # (n,)
    last = np.r_[first[1:], idx.size] - 1
    step_episode = np.full(start.shape, -1, np.int64)
    step_episode[idx] = label
    if scores is None or idx.size == 0:
        peak_pos, peak = first, np.full(first.size, np.nan)
    else:
        sc = np.where(np.isnan(scores[idx]), -np.inf, scores[idx])
        order = np.lexsort((-sc, label))  # by episode, highest score first
        peak_pos = order[first]
        peak = scores[idx][peak_pos]
    return Episodes(
        start_utc=st[first] if idx.size else st,
        end_utc=np.maximum.reduceat(en, first) if idx.size else en,
        peak_score=peak,
        peak_index=idx[peak_pos].astype(np.int64),
        n_steps=(last - first + 1).astype(np.int64),
        step_episode=step_episode,
    )
