"""Small pictures for the Dagster UI and MLflow: PNG bytes from matplotlib (Agg)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def png_bytes(fig: Figure, *, dpi: int = 72) -> bytes:
    """Render and close ``fig``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Inline Markdown image (keep PNGs to tens of KB: metadata lives in the instance DB)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def day_spectrogram(
    window_start: np.ndarray,
    band_levels_db: np.ndarray,
    band_centers_hz: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    threshold: float | None = None,
    title: str = "",
) -> Figure:
    """A long-term spectral average of a day, with the window scores beneath it.

    Parameters
    ----------
    window_start : (N,) datetime64
        Window start times (UTC).
    band_levels_db : (N, F) float
        Mean level of each band per window, dB.
    band_centers_hz : (F,) float
        Band centre frequencies, Hz (drawn on a log axis).
    scores : (N,) float, optional
        Anomaly score per window; ``threshold`` draws the operating point.
    """
    rows = 2 if scores is not None else 1
    fig, axes = plt.subplots(
        rows,
        1,
        figsize=(8, 2.6 * rows),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [2, 1][:rows]},
    )
    order = np.argsort(window_start)
    t = mdates.date2num(window_start[order].astype("datetime64[us]").tolist())
    ax = axes[0, 0]
    levels = band_levels_db[order].T  # (F, N)
    lo, hi = np.nanpercentile(levels, [2, 99.5]) if levels.size else (0, 1)
    ax.scatter(
        np.repeat(t[None, :], levels.shape[0], axis=0).ravel(),
        np.repeat(band_centers_hz[:, None], levels.shape[1], axis=1).ravel(),
        c=levels.ravel(),
        s=6,
        marker="s",
        cmap="viridis",
        vmin=lo,
        vmax=hi,
        linewidths=0,
    )
    ax.set_yscale("log")
    ax.set_ylabel("Hz")
    ax.set_title(title, fontsize=9)
    if scores is not None:
        ax2 = axes[1, 0]
        ax2.plot(t, scores[order], ".", ms=2, color="k")
        if threshold is not None:
            ax2.axhline(threshold, color="r", lw=0.8, label="threshold")
            ax2.legend(loc="upper right", fontsize=7)
        ax2.set_ylabel("score")
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes[-1, 0].set_xlabel("UTC")
    return fig


def bar_counts(labels: Sequence[str], counts: Sequence[float], *, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 2.5))
    positions = np.arange(len(labels))
    ax.bar(positions, list(counts), color="steelblue")
    ax.set_xticks(positions, [str(label) for label in labels])
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    return fig
