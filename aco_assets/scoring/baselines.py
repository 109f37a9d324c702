"""The field's baseline on the archive itself: third-octave band energy per step, per file.

:class:`aco_assets.yardstick.BandEnergyDetector` computes the levels of one file's samples; this
module runs it over the archive files of a set of days, gives every step its UTC span, fits the
robust band statistics on reference steps (those inside given windows, in the pipeline the
typical selection of the training days) and scores every step. Pure: numpy and the project's
hydrophone and yardstick packages.

Dimension letters: S steps, B bands, R reference windows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aco_assets.hydrophone import Archive, read_file
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
