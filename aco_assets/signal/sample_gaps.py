"""Missing samples of the front end's input: where they are, and the line that bridges them.

A missing sample is NaN or infinite in a float input, or False in the decoder's ``valid`` mask.
The front end bridges each missing run by a line between its valid neighbours before any filter
(no step, hence no spectral splatter) and counts the missing samples per window.
"""

from __future__ import annotations

import numpy as np


def bridge_gaps(x: np.ndarray, missing: np.ndarray) -> None:
    """Replace missing samples of x (n,) in place by a line between each run's valid neighbours.

    Costs O(number of missing samples); a run at either end takes its one valid neighbour's
    value, and an all-missing x becomes zeros.
    """
    bad = np.flatnonzero(missing)  # (B,)
    if bad.size == x.size:
        x[:] = 0.0
        return
    first = np.r_[True, np.diff(bad) != 1]  # (B,) True where a run starts
    run = np.cumsum(first) - 1  # (B,) run index of each missing sample
    left = bad[first] - 1  # (R,) last valid sample before each run, -1 at the file start
    right = bad[np.r_[first[1:], True]] + 1  # (R,) first valid sample after, n at the end
    left_ok, right_ok = left >= 0, right < x.size
    x_left = np.where(left_ok, x[np.maximum(left, 0)], x[np.minimum(right, x.size - 1)])
    x_right = np.where(right_ok, x[np.minimum(right, x.size - 1)], x_left)
    frac = (bad - left[run]) / (right[run] - left[run])  # (B,) in (0, 1)
    x[bad] = (x_left[run] + frac * (x_right[run] - x_left[run])).astype(np.float32)


def missing_mask(x: np.ndarray, valid: np.ndarray | None, *, floating: bool) -> np.ndarray | None:
    """Bool (n,) True where x (n,) float32 is not finite or ``valid`` is False; None if nowhere.

    ``floating``: x was cast from floats (from integers every sample is finite). A finite sum of
    x proves every sample finite at the cost of one read (NaN and inf propagate; a sum that
    overflows only sends the check down the exact path).
    """
    bad = None if valid is None or valid.all() else ~valid
    if floating and not np.isfinite(np.sum(x)):
        nonfinite = ~np.isfinite(x)
        bad = nonfinite if bad is None else bad | nonfinite
    return bad
