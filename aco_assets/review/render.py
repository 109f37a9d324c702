"""Review of detections by people: clips to listen to, spectrogram pictures, Raven tables, verdicts.

The field reviews candidates in Raven Pro (whose selection table is the interchange format) or by
listening and looking at spectrograms. This module renders each detection as a WAV clip with a
little context and a spectrogram PNG with the detection boxed (:func:`render_review`, through
the clip's own filters, spectrogram and WAV writer, :class:`aco_assets.hydrophone.Clip`) and makes
the row of the day's Raven selection table for it (:func:`selection_row`). The tables themselves
and the verdicts read back from them live in :mod:`aco_assets.review.raven` (re-exported here:
:func:`raven_selection_table`, :func:`read_raven_table`, :func:`read_verdicts`). Imports numpy,
matplotlib, the hydrophone clip and the standard library.

All datetimes are naive UTC.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from aco_assets.hydrophone.clip import Clip
from aco_assets.review.raven import (
    EVENT_CLASS_NAMES,
    FAULT_CLASS_NAMES,
    RAVEN_COLUMNS,
    VERDICTS,
    ReviewError,
    ReviewVerdict,
    Verdict,
    VerdictError,
    _to_datetime,
    parse_verdict,
    raven_selection_table,
    read_raven_table,
    read_verdicts,
)

__all__ = [
    "EVENT_CLASS_NAMES",
    "FAULT_CLASS_NAMES",
    "RAVEN_COLUMNS",
    "VERDICTS",
    "ClipLike",
    "ReviewError",
    "ReviewRender",
    "ReviewSpectrogram",
    "ReviewVerdict",
    "Verdict",
    "VerdictError",
    "parse_verdict",
    "raven_selection_table",
    "read_raven_table",
    "read_verdicts",
    "render_review",
    "review_audio",
    "review_clip_name",
    "review_figure",
    "review_span",
    "review_spectrogram",
    "selection_row",
    "thumbnail_markdown",
]

logger = logging.getLogger(__name__)

#: Most time columns of a review picture (its width is 800 px); longer clips average frames.
MAX_PICTURE_COLUMNS = 2400


class ClipLike(Protocol):
    """What :func:`render_review` needs of ``aco_assets.hydrophone.Clip``."""

    samples: np.ndarray  # float64 (n,), counts, NaN = missing
    start_utc: datetime  # naive UTC of samples[0]
    sample_rate_hz: float


# ---------------------------------------------------------------- clips and pictures


@dataclass(frozen=True)
class ReviewRender:
    """Files written for one detection by :func:`render_review`.

    Attributes
    ----------
    wav_path, png_path : the files written
    clip_start_utc : naive UTC of the WAV's first sample
    clip_duration_s : WAV duration, seconds
    thumbnail_b64 : a small PNG, base64 (for UI metadata: see :func:`thumbnail_markdown`)
    nfft, hop : spectrogram FFT length and hop, samples
    missing_s : seconds of the WAV with no archive data (written as silence, shaded in the PNG)
    """

    wav_path: Path
    png_path: Path
    clip_start_utc: datetime
    clip_duration_s: float
    thumbnail_b64: str
    nfft: int
    hop: int
    missing_s: float = 0.0


def review_clip_name(rank: int, start_utc: datetime, *, suffix: str = ".wav") -> str:
    """File name of a review clip, sorting in rank order: ``r007_2016-02-15T05-12-30.250.wav``."""
    return f"r{rank:03d}_{start_utc:%Y-%m-%dT%H-%M-%S}.{start_utc.microsecond // 1000:03d}{suffix}"


def review_span(
    start_utc: datetime,
    end_utc: datetime,
    *,
    peak_utc: datetime | None = None,
    context_s: float = 2.0,
    max_duration_s: float = 120.0,
) -> tuple[datetime, datetime]:
    """The span of audio a detection's review clip holds (naive UTC start, end).

    ``[start - context_s, end + context_s]``; when that is longer than ``max_duration_s`` (a
    ship passing for minutes), ``max_duration_s`` centred on ``peak_utc`` (default: the middle),
    shifted to stay inside the detection and its context, so the clip always shows part of it.
    """
    context = timedelta(seconds=context_s)
    lo, hi = start_utc - context, end_utc + context
    longest = timedelta(seconds=max_duration_s)
    if hi - lo <= longest:
        return lo, hi
    centre = peak_utc if peak_utc is not None else start_utc + (end_utc - start_utc) / 2
    a = min(max(centre - longest / 2, lo), hi - longest)
    return a, a + longest


def render_review(
    clip: ClipLike,
    detection: Mapping[str, Any],
    *,
    wav_path: str | Path,
    png_path: str | Path,
    context_s: float = 2.0,
    max_duration_s: float = 120.0,
    highpass_hz: float = 5.0,
) -> ReviewRender:
    """Write a detection's WAV clip (with context) and its spectrogram PNG, detection boxed.

    The WAV holds ``[start - context_s, end + context_s]`` (cut to what ``clip`` holds), the
    raw offset wander removed (:func:`review_audio`), missing samples as silence,
    peak-normalised to 0.9, 16-bit PCM at the clip's rate (:meth:`Clip.to_wav`). The PNG (about
    800 x 320 px, well under 150 KB) shows the detection's band with margins: frequency in Hz
    (log axis where the band spans more than a decade), UTC time, power in dB; the FFT length
    gives about a quarter of the band per bin, so blue whale tones near 17 Hz and humpback units
    near 1 kHz both resolve (:func:`review_spectrogram`).

    Parameters
    ----------
    clip : an ``aco_assets.hydrophone.Clip`` (or anything with ``samples``, ``start_utc``,
        ``sample_rate_hz``) that covers the detection and, ideally, its context
    detection : mapping with ``start_utc, end_utc, f_low_hz, f_high_hz`` and optionally
        ``peak_score, rank, band`` (used in the title)
    wav_path, png_path : files to write (parent folders must exist)
    context_s : seconds of audio kept before and after the detection
    max_duration_s : longest WAV written; a longer detection (a ship passing for an hour) is
        cut to this span around its ``peak_utc`` (or its middle): see :func:`review_span`
    highpass_hz : cut-off of the offset-removing high-pass

    Returns
    -------
    ReviewRender
    """
    if not isinstance(clip, Clip):
        clip = Clip(clip.samples, start_utc=clip.start_utc, sample_rate_hz=clip.sample_rate_hz)
    fs = float(clip.sample_rate_hz)
    start, end = _to_datetime(detection["start_utc"]), _to_datetime(detection["end_utc"])
    peak = detection.get("peak_utc")
    a, b = review_span(
        start,
        end,
        peak_utc=None if peak is None else _to_datetime(peak),
        context_s=context_s,
        max_duration_s=max_duration_s,
    )
    a_s, b_s = (a - clip.start_utc).total_seconds(), (b - clip.start_utc).total_seconds()
    i0, i1 = max(0, math.floor(a_s * fs + 1e-6)), min(len(clip), math.ceil(b_s * fs - 1e-6))
    if i1 - i0 < 2:
        raise ReviewError(
            f"detection {start}..{end} lies outside the clip {clip.start_utc}..{clip.end_utc}: "
            "load the span of the detection plus context"
        )
    seg = review_audio(clip[i0:i1], highpass_hz)
    seg.to_wav(wav_path, peak=0.9)
    spec = review_spectrogram(seg, float(detection["f_low_hz"]), float(detection["f_high_hz"]))
    fig = review_figure(spec, seg.start_utc, detection, figsize=(8.0, 3.2), labels=True)
    fig.savefig(str(png_path), dpi=100)
    thumb = io.BytesIO()
    review_figure(spec, seg.start_utc, detection, figsize=(3.2, 1.2), labels=False).savefig(
        thumb, format="png", dpi=72
    )
    return ReviewRender(
        wav_path=Path(wav_path),
        png_path=Path(png_path),
        clip_start_utc=seg.start_utc,
        clip_duration_s=seg.duration_s,
        thumbnail_b64=base64.b64encode(thumb.getvalue()).decode("ascii"),
        nfft=spec.nfft,
        hop=spec.hop,
        missing_s=float((~seg.valid).sum()) / fs,
    )


def review_audio(clip: Clip, highpass_hz: float = 5.0) -> Clip:
    """``clip`` without its offset and its slow wander: mean removed, then a zero-phase
    4th-order Butterworth high-pass at ``highpass_hz`` (:meth:`Clip.highpass`; missing samples
    stay NaN). A clip of 64 samples or fewer, or a cut-off outside (0, rate / 2), is only
    centred."""
    valid = clip.valid
    if not valid.any():
        return clip
    centred = Clip(
        clip.samples - np.mean(clip.samples[valid]),
        start_utc=clip.start_utc,
        sample_rate_hz=clip.sample_rate_hz,
    )
    if len(centred) > 64 and 0 < highpass_hz < clip.sample_rate_hz / 2:
        return centred.highpass(highpass_hz, order=4)
    return centred


@dataclass(frozen=True)
class ReviewSpectrogram:
    """The picture's spectrogram: the display band of a :class:`Spectrogram`, long clips pooled.

    Attributes
    ----------
    freqs_hz : (F,) bin frequencies of the display band
    times_s : (T,) frame centres, seconds from the clip's start
    power_db : (F, T) PSD, dB re 1 count²/Hz; NaN for frames that touch a missing sample
    f_range : the display band (low, high), Hz
    nfft, hop : FFT length and frame step, samples
    gaps_s : spans of missing samples, seconds from the clip's start
    """

    freqs_hz: np.ndarray
    times_s: np.ndarray
    power_db: np.ndarray
    f_range: tuple[float, float]
    nfft: int
    hop: int
    gaps_s: tuple[tuple[float, float], ...]


def review_spectrogram(clip: Clip, f_low: float, f_high: float) -> ReviewSpectrogram:
    """Power spectral density (dB) of ``clip`` over the display band around [f_low, f_high].

    The FFT length gives about four bins across the band (256 to 16384 samples, at most a
    quarter of the clip). Frames that touch a missing sample are NaN (:meth:`Clip.spectrogram`),
    so silence put in for an archive gap never shows as a -120 dB stripe. A long clip's frames
    are averaged in runs, so the picture has at most :data:`MAX_PICTURE_COLUMNS` columns (a
    120 s clip draws in about a second, not fifteen).
    """
    fs, n = float(clip.sample_rate_hz), len(clip)
    band = max(f_high - f_low, 1.0)
    nfft = 2 ** math.ceil(math.log2(4.0 * fs / band))  # ~4 bins across the band
    nfft = int(min(max(nfft, 256), 16384, 2 ** math.floor(math.log2(max(n // 4, 16)))))
    nfft = min(nfft, n)
    hop = max(nfft // 4, 1)
    full = clip.spectrogram(nfft=nfft, hop=hop, detrend="constant")
    freqs, times = full.freqs_hz, full.times_s
    f_lo = max(freqs[1], 0.5 * f_low)
    f_hi = min(fs / 2, max(2.0 * f_high, f_low + 2 * band))
    keep = (freqs >= f_lo) & (freqs <= f_hi)
    power_db = full.power_db[keep]  # (F_keep, T)
    pool = math.ceil(times.size / MAX_PICTURE_COLUMNS)
    if pool > 1:  # average runs of frames (Welch): a picture needs no more columns than pixels
        n_cols = times.size // pool
        psd = 10.0 ** (power_db[:, : n_cols * pool] / 10.0)
        psd = psd.reshape(psd.shape[0], n_cols, pool).mean(axis=2)  # NaN frames stay NaN
        power_db = 10.0 * np.log10(psd)
        times = times[: n_cols * pool].reshape(n_cols, pool).mean(axis=1)  # (T / pool,)
    gaps_s = tuple(
        ((g0 - clip.start_utc).total_seconds(), (g1 - clip.start_utc).total_seconds())
        for g0, g1 in clip.gaps
    )
    return ReviewSpectrogram(
        freqs_hz=freqs[keep],
        times_s=times,
        power_db=power_db,
        f_range=(float(f_lo), float(f_hi)),
        nfft=nfft,
        hop=hop,
        gaps_s=gaps_s,
    )


def review_figure(
    spec: ReviewSpectrogram,
    seg_start: datetime,
    detection: Mapping[str, Any],
    *,
    figsize: tuple[float, float],
    labels: bool,
) -> Figure:
    """The review picture of :func:`review_spectrogram`'s ``spec``: detection boxed, gaps hatched.

    Colours span the 5th..99.7th percentile of the finite power (frames in archive gaps are NaN
    and left out); ``labels=False`` draws the bare thumbnail.
    """
    fig = Figure(figsize=figsize, layout="constrained" if labels else None)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot() if labels else fig.add_axes((0, 0, 1, 1))
    t_num = mdates.date2num([seg_start + timedelta(seconds=float(s)) for s in spec.times_s])
    p = spec.power_db
    finite = p[np.isfinite(p)]
    vmin, vmax = np.percentile(finite, [5, 99.7]) if finite.size else (0.0, 1.0)
    mesh = ax.pcolormesh(
        t_num, spec.freqs_hz, p, shading="nearest", cmap="magma", vmin=vmin, vmax=vmax
    )
    mesh.set_rasterized(True)
    for a_s, b_s in spec.gaps_s:  # archive gaps: shaded, never drawn as silence
        g0, g1 = mdates.date2num([seg_start + timedelta(seconds=t) for t in (a_s, b_s)])
        ax.axvspan(g0, g1, facecolor="0.6", edgecolor="0.3", hatch="//", lw=0, zorder=2)
    f_lo, f_hi = spec.f_range
    if f_hi / f_lo > 10:
        ax.set_yscale("log")
    ax.set_ylim(f_lo, f_hi)
    start, end = _to_datetime(detection["start_utc"]), _to_datetime(detection["end_utc"])
    x0, x1 = mdates.date2num([start, end])
    f_low, f_high = float(detection["f_low_hz"]), float(detection["f_high_hz"])
    box = Rectangle((x0, f_low), x1 - x0, f_high - f_low, fill=False, ec="cyan", lw=1.5, ls="--")
    ax.add_patch(box)
    if not labels:
        ax.set_axis_off()
        return fig
    span_s = (t_num[-1] - t_num[0]) * 86400.0 if len(t_num) > 1 else 1.0
    step_s = next((st for st in (1, 2, 5, 10, 15, 30) if span_s / st <= 8), None)
    if step_s is not None:  # whole seconds, never repeated labels
        ax.xaxis.set_major_locator(mdates.SecondLocator(bysecond=range(0, 60, step_s)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    missing_s = sum(b - a for a, b in spec.gaps_s)
    ax.set_xlabel(
        f"UTC on {seg_start:%Y-%m-%d}"
        + (f"; hatched: {missing_s:.1f} s with no archive data" if missing_s else "")
    )
    ax.set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=ax, label="PSD (dB re 1 count²/Hz)", pad=0.01)
    parts = [f"rank {detection['rank']}"] if "rank" in detection else []
    if "peak_score" in detection:
        parts.append(f"score {float(detection['peak_score']):.3g}")
    parts.append(f"{start:%H:%M:%S}.{start.microsecond // 1000:03d} UTC, {end - start} long")
    parts.append(
        f"{f_low:.0f}-{f_high:.0f} Hz" + (f" ({detection['band']})" if "band" in detection else "")
    )
    ax.set_title(" · ".join(parts), fontsize=9)
    return fig


def thumbnail_markdown(thumbnail_b64: str, *, alt: str = "detection") -> str:
    """Markdown that shows a thumbnail inline (e.g. in Dagster ``MetadataValue.md``)."""
    return f"![{alt}](data:image/png;base64,{thumbnail_b64})"


# ---------------------------------------------------------------- Raven selection tables


def selection_row(detection: Mapping[str, Any], render: ReviewRender) -> dict[str, Any]:
    """A row for :func:`raven_selection_table` from a detection and its rendered clip."""
    return {
        "start_utc": detection["start_utc"],
        "end_utc": detection["end_utc"],
        "f_low_hz": detection["f_low_hz"],
        "f_high_hz": detection["f_high_hz"],
        "score": detection.get("peak_score", detection.get("score")),
        "rank": detection["rank"],
        "model_version": detection.get("model_version", ""),
        "detection_id": detection.get("detection_id", ""),
        "wav_path": render.wav_path,
        "clip_start_utc": render.clip_start_utc,
        "clip_duration_s": render.clip_duration_s,
        "missing_s": render.missing_s,
    }
