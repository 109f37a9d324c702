"""Runs of a boolean mask: where samples are missing (gaps), or where any per-sample test holds.

The one definition of a mask's runs, for the clips of :mod:`.clip` (their NaN gaps) and the
quality finder of :mod:`aco_assets.signal.quality` (gaps, dropouts, candidate blocks).
"""

from __future__ import annotations

import numpy as np


def mask_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a 1-D bool array, (R,) each."""
    if mask.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    change = np.flatnonzero(mask[1:] != mask[:-1]) + 1  # (C,) first index of each later run
    bounds = np.concatenate(([0], change, [mask.size]))  # (C + 2,) runs alternate in value
    first = 0 if mask[0] else 1  # index of the first run of True
    return bounds[first:-1:2], bounds[first + 1 :: 2]


def run_spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True of ``mask`` as ``[(start, end)]`` index ranges, end exclusive."""
    starts, ends = mask_runs(np.asarray(mask, dtype=bool))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
