"""The classic baselines: band-limited energy detectors, per window and per archive step.

- :func:`energy_detector_scores`: the band-limited energy detector of the production scoring
  (the ``energy_score`` column of ``anomaly_scores``): per-window band levels against a noise
  floor.
- :func:`archive_step_levels` / :func:`band_energy_scores`: the field's baseline on the archive
  itself. :class:`aco_assets.yardstick.BandEnergyDetector` computes the third-octave levels of
  one file's samples; this runs it over the archive files of a set of days, gives every step
  its UTC span, fits the robust band statistics on reference steps (those inside given windows,
  in the pipeline the typical selection of the training days) and scores every step.

Pure: numpy, scipy and the project's hydrophone and yardstick packages.

Dimension letters: N windows, S steps, B bands, R reference windows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from aco_assets.hydrophone import Archive, read_file
from aco_assets.scoring.tables import EvaluationError
from aco_assets.yardstick import BandEnergyDetector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepLevels:
    """Third-octave levels of every whole step of some archive files.

    Attributes
    ----------
    start_us, end_us : int64 (S,), microseconds since the Unix epoch (UTC), step spans
    levels_db : float64 (S, B), dB re 1 count^2; NaN rows where samples were missing
    step_s : float, s
    """

    start_us: np.ndarray
    end_us: np.ndarray
    levels_db: np.ndarray
    step_s: float

    def inside(self, start_us: np.ndarray, end_us: np.ndarray) -> np.ndarray:
        """(S,) bool: the step lies wholly inside one of the given spans (any order)."""
        order = np.argsort(start_us)
        s, e = np.asarray(start_us, np.int64)[order], np.asarray(end_us, np.int64)[order]
        i = np.searchsorted(s, self.start_us, side="right") - 1  # last span starting before
        ok = i >= 0
        ok[ok] &= self.end_us[ok] <= e[i[ok]]
        return ok


def archive_step_levels(
    archive_root: str | Path, days: Iterable[dt.date], *, steps_s: Sequence[float] = (1.0,)
) -> dict[float, StepLevels]:
    """Band levels of every step of every file of ``days``, in time order, per step length.

    Each file is read once for all step lengths. Unreadable files are skipped with a warning
    (their faults are the quality checks' business); missing samples give NaN steps.
    """
    detectors = {step: BandEnergyDetector(step_s=step) for step in steps_s}
    starts: dict[float, list] = {step: [] for step in steps_s}
    levels: dict[float, list] = {step: [] for step in steps_s}
    archive = Archive(archive_root)
    for day in sorted(set(days)):
        for f in archive.day_files(day):
            try:
                raw = read_file(f.path, on_fault="skip")
            except (OSError, ValueError) as e:
                logger.warning("band-energy baseline skips %s: %s", f.path, e)
                continue
            if raw.start_utc is None:
                continue
            x = np.where(raw.valid, raw.samples.astype(np.float64), np.nan)
            t0 = np.datetime64(raw.start_utc, "us").astype(np.int64)
            for step, detector in detectors.items():
                offsets_s, lv = detector.levels(x)
                starts[step].append(t0 + np.round(offsets_s * 1e6).astype(np.int64))
                levels[step].append(lv)
    out = {}
    for step, detector in detectors.items():
        n_bands = len(detector.bands.center_hz)
        start = np.concatenate(starts[step]) if starts[step] else np.empty(0, np.int64)
        lv = np.concatenate(levels[step]) if levels[step] else np.empty((0, n_bands))
        out[step] = StepLevels(start, start + int(round(step * 1e6)), lv, step)
    return out


def band_energy_scores(
    steps: StepLevels, reference: np.ndarray, *, step_s: float | None = None
) -> np.ndarray:
    """(S,) largest robust band z-score of each step, fitted on the ``reference`` steps (mask)."""
    detector = BandEnergyDetector(step_s=step_s or steps.step_s)
    fitted = detector.fit(steps.levels_db[np.asarray(reference, bool)])
    return fitted.score(steps.levels_db).score


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
