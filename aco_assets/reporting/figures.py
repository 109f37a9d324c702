"""Small pictures for the Dagster UI and MLflow: PNG bytes from matplotlib.

Figures are :class:`matplotlib.figure.Figure` objects on the Agg canvas, made without pyplot:
no global figure registry to close, and no ``matplotlib.use`` (importing this module leaves the
process's backend alone).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def agg_figure(**kwargs) -> Figure:
    """A :class:`~matplotlib.figure.Figure` (``kwargs`` as its constructor's) on an Agg canvas."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, *, dpi: int = 72) -> bytes:
    """Render ``fig`` as PNG bytes (cropped to its contents)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
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
    fig = agg_figure(figsize=(8, 2.6 * rows))
    axes = fig.subplots(
        rows, 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": [2, 1][:rows]}
    )
    order = np.argsort(window_start)
    t = mdates.date2num(window_start[order].astype("datetime64[us]").tolist())
    ax = axes[0, 0]
    levels = band_levels_db[order].T  # (F, N)
    lo, hi = np.nanpercentile(levels, [2, 99.5]) if levels.size else (0, 1)
    if levels.size:  # one mesh, not a marker per window and band: a day renders in tenths of a s
        t_edges, columns = _time_cells(t, levels)
        ax.pcolormesh(
            t_edges,
            _log_edges(band_centers_hz),
            np.ma.masked_invalid(columns),
            cmap="viridis",
            vmin=lo,
            vmax=hi,
            shading="flat",
            rasterized=True,
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


def _time_cells(t: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges (M + gaps + 1,) for columns starting at ``t`` (days, sorted) and the
    ``levels`` (F, M) with an empty (NaN) column over each gap longer than a column: a missing
    hour stays blank instead of stretching its neighbours."""
    width = float(np.median(np.diff(t))) if t.size > 1 else 5 / 86400
    edges, columns = [t[0]], []
    for i in range(t.size):
        end = t[i] + width
        nxt = t[i + 1] if i + 1 < t.size else end
        columns.append(levels[:, i])
        if nxt > end + 0.5 * width:  # a gap: the column keeps its width, then a blank cell
            edges.append(end)
            columns.append(np.full(levels.shape[0], np.nan))
        edges.append(nxt)
    return np.asarray(edges), np.stack(columns, axis=1)


def _log_edges(centers: np.ndarray) -> np.ndarray:
    """Band edges (F + 1,) halfway between log-spaced ``centers`` (Hz), in log frequency."""
    logs = np.log(np.asarray(centers, dtype=float))
    if logs.size == 1:
        return np.exp(logs + np.array([-0.5, 0.5]))
    mid = (logs[1:] + logs[:-1]) / 2
    return np.exp(np.r_[2 * logs[0] - mid[0], mid, 2 * logs[-1] - mid[-1]])


def bar_counts(labels: Sequence[str], counts: Sequence[float], *, title: str) -> Figure:
    """One bar per label (at most about 30 tick labels shown)."""
    fig = agg_figure(figsize=(6, 2.5))
    ax = fig.subplots()
    positions = np.arange(len(labels))
    ax.bar(positions, list(counts), color="steelblue")
    step = max(1, len(labels) // 30)  # at most about 30 tick labels
    ax.set_xticks(positions[::step], [str(label) for label in labels][::step])
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    return fig


# Inline pictures. The Dagster UI renders a Markdown metadata value in the metadata table itself
# only when it is shorter than 1000 characters; longer ones (any PNG) hide behind a
# "[Show Markdown]" button. These SVG strips and sparklines stay under that limit.
INLINE_MARKDOWN_MAX = 999
_SVG_ESCAPES = {"<": "%3C", ">": "%3E", "#": "%23", " ": "%20", '"': "'"}


def inline_svg_markdown(svg: str, alt: str) -> str:
    """``svg`` as a Markdown image with a percent-encoded data URI (no base64: a third shorter)."""
    encoded = "".join(_SVG_ESCAPES.get(c, c) for c in svg)
    return f"![{alt}](data:image/svg+xml,{encoded})"


def _runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, length, code) of the runs of equal ``codes``."""
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, edges]
    lengths = np.diff(np.r_[starts, len(codes)])
    return [(int(s), int(n), int(codes[s])) for s, n in zip(starts, lengths, strict=True)]


def status_strip_markdown(
    codes: np.ndarray, colors: Sequence[str], *, alt: str, width_px: int = 480
) -> str:
    """A day as a strip of coloured slots (code i drawn in ``colors[i]``, 0 is the background).

    Parameters
    ----------
    codes : (N,) int
        One code per time slot of the day (e.g. 288 five-minute files); a higher code wins when
        slots are merged to keep the picture under the inline limit.
    """
    codes = np.asarray(codes, dtype=np.int64)
    while True:
        n = len(codes)
        paths: dict[int, list[str]] = {}
        for start, length, code in _runs(codes):
            if code:
                paths.setdefault(code, []).append(f"M{start},0h{length}v1h-{length}z")
        body = "".join(f"<path fill='{colors[c]}' d='{''.join(p)}'/>" for c, p in paths.items())
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width_px}' height='14' "
            f"viewBox='0,0,{n},1' preserveAspectRatio='none'>"
            f"<rect width='{n}' height='1' fill='{colors[0]}'/>{body}</svg>"
        )
        markdown = inline_svg_markdown(svg, alt)
        if len(markdown) <= INLINE_MARKDOWN_MAX or n <= 2:
            return markdown
        codes = np.maximum.reduceat(codes, np.arange(0, n, 2))  # halve the resolution


def sparkline_markdown(
    values: np.ndarray,
    *,
    alt: str,
    threshold: float | None = None,
    width_px: int = 480,
    height_px: int = 48,
) -> str:
    """Values in time order as bars from the lowest (NaN: no bar), ``threshold`` as a red rule.

    Parameters
    ----------
    values : (M,) float
        E.g. the highest anomaly score of each half hour of a day; NaN where nothing was scored.
    """
    values = np.asarray(values, dtype=float)
    while True:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if threshold is not None:
            lo, hi = min(lo, threshold), max(hi, threshold)
        span = (hi - lo) or 1.0

        def y(v: float, lo: float = lo, span: float = span) -> int:
            return round(19 - 19 * (v - lo) / span)  # 0 at the top of the 20-unit box, bars from 20

        n = len(values)
        bars = "".join(f"M{i + 0.5:g},20V{y(v)}" for i, v in enumerate(values) if np.isfinite(v))
        bar_px = max(1.0, round(0.8 * width_px / max(n, 1), 1))
        rule = (
            f"<path stroke='red' vector-effect='non-scaling-stroke' d='M0,{y(threshold)}H{n}'/>"
            if threshold is not None
            else ""
        )
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width_px}' height='{height_px}' "
            f"viewBox='0,-1,{n},21' preserveAspectRatio='none'>"
            f"<rect x='0' y='-1' width='{n}' height='21' fill='#f4f4f4'/>"
            f"<path stroke='#333' stroke-width='{bar_px:g}' vector-effect='non-scaling-stroke' "
            f"d='{bars}'/>{rule}</svg>"
        )
        markdown = inline_svg_markdown(svg, alt)
        if len(markdown) <= INLINE_MARKDOWN_MAX or len(values) <= 4:
            return markdown
        pad = (-len(values)) % 2
        pairs = np.r_[values, [np.nan] * pad].reshape(-1, 2)  # (M/2, 2)
        with np.errstate(all="ignore"):
            values = np.where(np.isfinite(pairs).any(axis=1), np.nanmax(pairs, axis=1), np.nan)
