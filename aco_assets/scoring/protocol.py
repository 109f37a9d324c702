"""The evaluation protocol: time-separated splits, a false-alarm budget and its two-sided check.

Pure numpy/scipy building blocks of the ``detector`` and ``evaluation`` assets.

- **Splits in time.** Neighbouring windows are alike, so training, calibration and test data are
  separated by whole days (or, for an archive of fewer than three days, by clock hours): no
  window of a calibration or test unit is seen by any training phase (:func:`split_units`).
- **A budget in the user's terms.** Users set false alarms per hour of audio; windows overlap
  and alarms are merged into episodes, so a window FPR is not that budget.
  :func:`threshold_for_budget` turns the budget into a threshold on calibration time: the lowest
  threshold whose episode rate, at it and at every higher threshold, stays within the budget.
  When the calibration time is too short to see the budget's worth of alarms, the rate curve is
  extrapolated by a peaks-over-threshold fit (exponential tail of episode peak excesses, the
  classical POT model of extreme-value statistics; Coles 2001, ch. 4). Its scale comes from
  the median excess, not the mean: typical time is not free of events (whales sing in the
  evenings too), and the few loud ones among the peaks would inflate a mean.
- **A two-sided check.** :func:`budget_check` passes a threshold whose realised alarm count on
  held-out typical time is consistent with the budget: the budget lies inside the exact
  (Garwood) Poisson confidence interval of the realised rate. A threshold far below or far
  above the budget fails as soon as the held-out time can tell.

Dimension letters: N steps (scored windows), U time units.

Why this module is long: the split, the budget's threshold and its check are one protocol, read
and changed together (the check tests the threshold the budget set on the split's calibration
time); apart, each would import the other two.
All times are int64 microseconds (UTC), steps need not be sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

US_PER_HOUR = 3_600_000_000
#: Alarms closer than this belong to one episode (``detections`` and the budget use it).
EPISODE_GAP_S = 5.0
#: Longest episode, s: a longer flagged stretch is one alarm per started piece of this length,
#: so a detector that flags everything cannot pass as one alarm per hour (a reviewer's alarm is
#: a clip of bounded length).
MAX_EPISODE_S = 60.0


def is_anomalous(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The project's one anomaly rule: ``scores > threshold`` (bool, same shape).

    NaN scores (windows that could not be scored) are never anomalous.
    """
    s = np.asarray(scores, dtype=np.float64)
    return np.nan_to_num(s, nan=-np.inf) > threshold


class ProtocolError(ValueError):
    """Inputs the protocol cannot use (too few units, empty calibration time, bad budget)."""


@dataclass(frozen=True)
class TimeSplit:
    """Which time units train, calibrate and test a model.

    Attributes
    ----------
    unit : {"day", "hour"}
        What a unit is: a UTC day (``YYYY-MM-DD``) or a UTC clock hour (``YYYY-MM-DDTHH``).
    train, calibration, test : tuple of str
        The units of each part, sorted.
    """

    unit: Literal["day", "hour"]
    train: tuple[str, ...]
    calibration: tuple[str, ...]
    test: tuple[str, ...]

    def part_of(self, units: Sequence[str]) -> np.ndarray:
        """(N,) int8 part of each unit key: 0 train, 1 calibration, 2 test, -1 in none."""
        lookup = {u: 0 for u in self.train} | {u: 1 for u in self.calibration}
        lookup |= {u: 2 for u in self.test}
        return np.array([lookup.get(u, -1) for u in units], dtype=np.int8)

    def to_dict(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "train": list(self.train),
            "calibration": list(self.calibration),
            "test": list(self.test),
        }


def utc_micros(values) -> np.ndarray:
    """(N,) int64 microseconds since the Unix epoch of timestamps (a pyarrow column, datetime64 or
    datetime objects, naive UTC)."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy(zero_copy_only=False)
    return np.asarray(values).astype("datetime64[us]").astype(np.int64)


def unit_keys(start_us: np.ndarray, unit: Literal["day", "hour"]) -> np.ndarray:
    """(N,) str unit key of each step start (UTC day or clock hour)."""
    t = np.asarray(start_us, dtype=np.int64).astype("datetime64[us]")
    return np.datetime_as_string(t, unit="D" if unit == "day" else "h")


def choose_unit(start_us: np.ndarray) -> Literal["day", "hour"]:
    """Whole days when the steps cover at least three days, else clock hours."""
    return "day" if len(np.unique(unit_keys(start_us, "day"))) >= 3 else "hour"


def split_units(
    units: Sequence[str],
    *,
    unit: Literal["day", "hour"] = "day",
    calibration_share: float = 0.15,
    test_share: float = 0.3,
    seed: int = 0,
) -> TimeSplit:
    """Split sorted time units into train / calibration / test, spread evenly over time.

    Test and calibration units are taken at evenly spaced positions of the time-ordered units
    (with a seeded phase), so each part spans the archive's seasons instead of one end of it.

    Parameters
    ----------
    units : sequence of str
        Unit keys (see :func:`unit_keys`); duplicates are ignored.
    unit : {"day", "hour"}
        What the keys are.
    calibration_share, test_share : float
        Shares of units for calibration and test; each part gets at least one unit.
    seed : int
        Phase of the even spacing.

    Raises
    ------
    ProtocolError
        With fewer than three units (one per part is the least a protocol needs).
    """
    ordered = sorted(set(units))
    n = len(ordered)
    if n < 3:
        raise ProtocolError(
            f"only {n} {unit}(s) of data ({', '.join(ordered) or 'none'}): training, "
            "calibration and test need one each; add data or split by hour"
        )
    n_test = min(max(1, round(test_share * n)), n - 2)
    n_cal = min(max(1, round(calibration_share * n)), n - n_test - 1)
    phase = np.random.default_rng(seed).random()
    test = _spread(np.arange(n), n_test, phase)
    rest = np.setdiff1d(np.arange(n), test)
    cal = _spread(rest, n_cal, (phase + 0.5) % 1.0)
    train = np.setdiff1d(rest, cal)
    pick = lambda idx: tuple(ordered[i] for i in sorted(idx))  # noqa: E731
    return TimeSplit(unit, pick(train), pick(cal), pick(test))


def _spread(candidates: np.ndarray, k: int, phase: float) -> np.ndarray:
    pos = np.floor((np.arange(k) + phase) * len(candidates) / k).astype(int)
    return candidates[np.clip(pos, 0, len(candidates) - 1)]


def step_spans_us(
    start_us: np.ndarray, end_us: np.ndarray, n_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """(N * K,) start and end (us) of ``n_steps`` equal steps of each span (N,), window by
    window (the order of ``ml.FittedDetector.score_steps`` flattened)."""
    start, end = np.asarray(start_us, np.int64), np.asarray(end_us, np.int64)
    step = (end - start) // n_steps  # (N,)
    s = start[:, None] + np.arange(n_steps)[None, :] * step[:, None]  # (N, K)
    return s.ravel(), (s + step[:, None]).ravel()


def audio_hours(start_us: np.ndarray, end_us: np.ndarray) -> float:
    """Hours covered by the union of the step spans (overlapping steps count once)."""
    s, e = _sorted_spans(start_us, end_us)
    if s.size == 0:
        return 0.0
    reach = np.maximum.accumulate(e)
    first = np.flatnonzero(np.concatenate([[True], s[1:] > reach[:-1]]))  # block starts
    return float((np.maximum.reduceat(e, first) - s[first]).sum()) / US_PER_HOUR


def episode_starts(
    start_us: np.ndarray,
    end_us: np.ndarray,
    *,
    max_gap_s: float,
    max_episode_s: float | None = MAX_EPISODE_S,
) -> np.ndarray:
    """(n,) bool: which of these flagged steps (sorted by start) opens a new episode.

    A step joins the current episode while it starts no later than ``max_gap_s`` after the
    latest end so far (overlapping and touching steps always merge). With ``max_episode_s``, an
    episode is then cut into pieces: piece ``k`` holds the members starting in
    ``[t0 + k max_episode_s, t0 + (k + 1) max_episode_s)`` from the episode's start ``t0``.
    """
    s = np.asarray(start_us, np.int64)
    new = np.ones(s.size, dtype=bool)
    if s.size == 0:
        return new
    reach = np.maximum.accumulate(np.asarray(end_us, np.int64))
    new[1:] = s[1:] > reach[:-1] + int(round(max_gap_s * 1e6))
    if max_episode_s is not None:
        t0 = s[np.flatnonzero(new)][np.cumsum(new) - 1]  # start of each step's episode
        piece = (s - t0) // int(round(max_episode_s * 1e6))
        new[1:] |= piece[1:] != piece[:-1]
    return new


def episode_bounds(
    start_us: np.ndarray,
    end_us: np.ndarray,
    flags: np.ndarray,
    *,
    max_gap_s: float,
    max_episode_s: float | None = MAX_EPISODE_S,
) -> list[tuple[int, int]]:
    """Episodes of flagged steps (:func:`episode_starts`), as (first, last) indices into the
    time-sorted steps; ``start_us`` must be sorted, the indices count all steps."""
    idx = np.flatnonzero(np.asarray(flags, bool))
    if idx.size == 0:
        return []
    new = episode_starts(np.asarray(start_us, np.int64)[idx], np.asarray(end_us, np.int64)[idx],
                         max_gap_s=max_gap_s, max_episode_s=max_episode_s)  # fmt: skip
    firsts = np.flatnonzero(new)
    lasts = np.r_[firsts[1:], idx.size] - 1
    return [(int(idx[a]), int(idx[b])) for a, b in zip(firsts, lasts, strict=True)]


def count_episodes(
    start_us: np.ndarray, end_us: np.ndarray, flags: np.ndarray, *, max_gap_s: float
) -> int:
    """Number of episodes of flagged steps (:func:`episode_bounds`); steps in any order."""
    order = np.argsort(start_us, kind="stable")
    s, e = np.asarray(start_us, np.int64)[order], np.asarray(end_us, np.int64)[order]
    return len(episode_bounds(s, e, np.asarray(flags, bool)[order], max_gap_s=max_gap_s))


def episode_peaks(
    scores: np.ndarray,
    start_us: np.ndarray,
    end_us: np.ndarray,
    threshold: float,
    *,
    max_gap_s: float,
) -> np.ndarray:
    """(Q,) peak score of each episode of ``scores > threshold``; steps in any order."""
    order = np.argsort(start_us, kind="stable")
    sc = np.asarray(scores, np.float64)[order]
    s, e = np.asarray(start_us, np.int64)[order], np.asarray(end_us, np.int64)[order]
    bounds = episode_bounds(s, e, is_anomalous(sc, threshold), max_gap_s=max_gap_s)
    return np.array([np.nanmax(sc[a : b + 1]) for a, b in bounds])


@dataclass(frozen=True)
class BudgetThreshold:
    """A false-alarm budget turned into a threshold.

    Attributes
    ----------
    threshold : float
        The production threshold (``score > threshold`` is anomalous).
    budget_per_hour : float
        The budget, episodes per hour of audio.
    hours : float
        Calibration audio, hours.
    n_episodes : int
        Episodes of the calibration time at the threshold.
    method : {"empirical", "tail_fit"}
        ``"empirical"``: read off the calibration episode counts; ``"tail_fit"``: extrapolated
        by the exponential peaks-over-threshold fit (the calibration time holds fewer than
        ``min_alarms`` budgeted alarms).
    """

    threshold: float
    budget_per_hour: float
    hours: float
    n_episodes: int
    method: Literal["empirical", "tail_fit"]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def threshold_for_budget(
    scores: np.ndarray,
    start_us: np.ndarray,
    end_us: np.ndarray,
    *,
    budget_per_hour: float,
    max_gap_s: float,
    min_alarms: float = 5.0,
    n_tail: int = 30,
) -> BudgetThreshold:
    """The threshold at which calibration time raises ``budget_per_hour`` episodes per hour.

    Parameters
    ----------
    scores : (N,) float64
        Production scores of the calibration steps (typical time never seen in training).
    start_us, end_us : (N,) int64
        Step spans, microseconds.
    budget_per_hour : float
        False alarms (episodes) per hour of audio, > 0.
    max_gap_s : float
        Episode merge gap (the rule ``detections`` uses).
    min_alarms : float
        Below ``budget_per_hour * hours < min_alarms`` the empirical count is too coarse to
        resolve the budget and the tail fit is used.
    n_tail : int
        Episodes above the fit's base threshold.

    Raises
    ------
    ProtocolError
        For a non-positive budget, or no finite score.
    """
    if not budget_per_hour > 0:
        raise ProtocolError(f"false-alarm budget must be > 0 per hour, got {budget_per_hour}")
    sc = np.asarray(scores, np.float64)
    ok = np.isfinite(sc)
    if not ok.any():
        raise ProtocolError("no finite calibration score: cannot set a threshold")
    sc, s, e = sc[ok], np.asarray(start_us)[ok], np.asarray(end_us)[ok]
    hours = audio_hours(s, e)
    allowed = budget_per_hour * hours
    if allowed >= min_alarms:
        thr = _empirical_threshold(sc, s, e, allowed, max_gap_s)
        method: Literal["empirical", "tail_fit"] = "empirical"
    else:
        thr = _tail_threshold(sc, s, e, budget_per_hour, hours, max_gap_s, n_tail)
        method = "tail_fit"
    n = count_episodes(s, e, is_anomalous(sc, thr), max_gap_s=max_gap_s)
    return BudgetThreshold(float(thr), float(budget_per_hour), hours, n, method)


def _empirical_threshold(sc, s, e, allowed: float, max_gap_s: float, n_max: int = 400) -> float:
    """Lowest candidate whose count, there and at every higher candidate, is <= allowed."""
    candidates = np.unique(sc)[::-1][:n_max]  # descending
    threshold = float(candidates[0])
    for t in candidates:
        if count_episodes(s, e, sc > t, max_gap_s=max_gap_s) > allowed:
            break
        threshold = float(t)
    return threshold


def _tail_threshold(sc, s, e, budget: float, hours: float, max_gap_s: float, n_tail: int) -> float:
    """Exponential POT: rate(t) = rate(u) exp(-(t - u) / beta), solved for rate(t) = budget."""
    ordered = np.unique(sc)[::-1]
    base = float(ordered[min(len(ordered) - 1, 4 * n_tail)])
    peaks = episode_peaks(sc, s, e, base, max_gap_s=max_gap_s)
    if peaks.size > n_tail:  # raise the base until about n_tail episodes lie above it
        base = float(np.sort(peaks)[-n_tail - 1])
        peaks = peaks[peaks > base]
    if peaks.size < 2:
        return float(ordered[0])
    # the exponential's scale from its median (median = beta ln 2): robust to the few real
    # events among typical time's peaks, which would inflate the mean (the MLE)
    beta = max(float(np.median(peaks - base)) / np.log(2.0), 1e-12)
    rate_base = peaks.size / hours
    return base + beta * max(0.0, float(np.log(rate_base / budget)))


@dataclass(frozen=True)
class BudgetCheck:
    """The realised alarm rate on held-out typical time against the budget.

    Attributes
    ----------
    passed : bool
        The budget lies inside the two-sided ``1 - alpha`` Poisson interval of the rate.
    n_alarms : int
        Episodes on the held-out time.
    hours : float
        Held-out audio, hours.
    rate_per_hour, ci_low_per_hour, ci_high_per_hour : float
        Realised rate and its exact (Garwood) interval.
    budget_per_hour, alpha : float
    """

    passed: bool
    n_alarms: int
    hours: float
    rate_per_hour: float
    ci_low_per_hour: float
    ci_high_per_hour: float
    budget_per_hour: float
    alpha: float

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def budget_check(
    n_alarms: int, hours: float, budget_per_hour: float, *, alpha: float = 0.01
) -> BudgetCheck:
    """Two-sided check of a realised alarm count against the budget (exact Poisson interval).

    Raises
    ------
    ProtocolError
        When ``hours`` is not positive.
    """
    if not hours > 0:
        raise ProtocolError("no held-out typical time: cannot check the false-alarm budget")
    lo = stats.chi2.ppf(alpha / 2, 2 * n_alarms) / 2 if n_alarms > 0 else 0.0
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * n_alarms + 2) / 2
    low, high = float(lo) / hours, float(hi) / hours
    return BudgetCheck(
        passed=bool(low <= budget_per_hour <= high),
        n_alarms=int(n_alarms),
        hours=float(hours),
        rate_per_hour=n_alarms / hours,
        ci_low_per_hour=low,
        ci_high_per_hour=high,
        budget_per_hour=float(budget_per_hour),
        alpha=float(alpha),
    )


def _sorted_spans(start_us: np.ndarray, end_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, e = np.asarray(start_us, np.int64), np.asarray(end_us, np.int64)
    order = np.argsort(s, kind="stable")
    return s[order], e[order]
