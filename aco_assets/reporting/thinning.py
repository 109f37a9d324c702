"""Thinning of a day's time-ordered windows into the columns of one picture.

Pure numpy: the day pictures of ``spectrograms`` and ``anomaly_scores`` draw at most
:data:`PICTURE_COLUMNS` columns, whatever the number of windows of the day.
"""

from __future__ import annotations

import numpy as np

PICTURE_COLUMNS = 720  # time columns of a day picture (an 8-inch figure is 576 px wide)


def thin_for_picture(
    starts: np.ndarray,
    levels: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    max_columns: int = PICTURE_COLUMNS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge time-ordered windows into at most ``max_columns`` picture columns.

    Parameters
    ----------
    starts : (N,) datetime64[us]
        Window starts, UTC, in time order.
    levels : (N, F) float
        Band levels, dB; a column holds the mean of its windows.
    scores : (N,) float, optional
        Window scores (NaN where not scored); a column holds the highest, so anomalies stay visible.

    Returns
    -------
    starts (M,), levels (M, F), scores (M,) or None, with M <= max_columns: the first start of
    each column. A scatter of all 17k windows x 64 bands of a full day takes seconds to render.
    """
    per_column = -(-len(starts) // max_columns)  # ceil
    if per_column <= 1:
        return starts, levels, scores
    edges = np.arange(0, len(starts), per_column)  # (M,) first window of each column
    counts = np.diff(np.r_[edges, len(starts)])[:, None]  # (M, 1)
    binned = np.add.reduceat(np.asarray(levels, dtype=np.float64), edges, axis=0) / counts  # (M, F)
    peaks = None if scores is None else np.fmax.reduceat(np.asarray(scores, dtype=float), edges)
    return starts[edges], binned, peaks
