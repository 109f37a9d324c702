"""Real calls cut from the recordings by measurement: humpback units, orca calls, OOI pings.

Cutting rule (each recording at 24 kHz): band power in 50 ms frames (25 ms hop) inside the
class's search band, against the recording's own background level (the 20th percentile of the
frames); frames more than :data:`CALL_THRESHOLD_DB` above it are active, gaps under 0.15 s are
closed, and active runs of the class's duration range are kept (humpback units 0.5-4 s, orca
calls 0.3-4 s). A labelled catalogue clip is one call: its active span is cut out of the clip.

The call's band is measured too: the excess of the call's spectrum over the recording's
background spectrum, between its 5th and 95th energy percentiles (widened 10 %, clamped to the
search band). The cut is band-passed to that band (4th-order Butterworth, zero phase) so that the
source recording's own background does not come along, given 20 ms fades, and scaled to unit
peak.

Pings (``chunk52.wav``, 64 kHz): pulses found on the 5-32 kHz envelope at the native rate; the
period is the median onset interval; the share of each ping's energy below 12 kHz (the ACO
Nyquist) is measured before resampling; the resampled ping is band-passed to 5-11.5 kHz.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.signal
import soundfile

from aco_assets.synth.sounds import (
    HUMPBACK_RECORDINGS,
    ORCA_CATALOG_DIR,
    ORCA_ENCOUNTERS,
    ORCA_LABELS,
    PING_RECORDING,
    SAMPLE_RATE_HZ,
    band_frames_db,
    bandpass,
    load_sound,
)

CALL_THRESHOLD_DB = 6.0
_FRAME_S, _HOP_S = 0.05, 0.025
HUMPBACK_BAND_HZ = (80.0, 4000.0)
ORCA_BAND_HZ = (300.0, 11500.0)
PING_BAND_HZ = (5000.0, 11500.0)


@dataclass(frozen=True)
class Call:
    """One real call, ready to place.

    Attributes
    ----------
    samples : ndarray, shape (n,), float64
        24 kHz, band-passed to [low_hz, high_hz], unit peak.
    low_hz, high_hz : float
        The call's measured band, Hz (the catalog's band and the SNR band).
    source : str
        ``<path relative to DIR>@<start>s``.
    """

    samples: np.ndarray
    low_hz: float
    high_hz: float
    source: str


@dataclass(frozen=True)
class PingTrain:
    """The OOI ping as measured: one ping, the train's period and the energy share below 12 kHz."""

    ping: Call
    period_s: float
    share_below_nyquist: float
    n_pings_seen: int


def active_runs(
    level_db: np.ndarray, *, duration_s: tuple[float, float], threshold_db: float
) -> list[tuple[int, int]]:
    """Frame runs (first, end) above the 20th-percentile level + ``threshold_db``, gaps closed."""
    active = level_db > np.percentile(level_db, 20) + threshold_db
    gap = int(round(0.15 / _HOP_S))
    active = scipy.ndimage.binary_closing(active, structure=np.ones(gap + 1)) | active
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
    lo, hi = (int(round(d / _HOP_S)) for d in duration_s)
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if lo <= b - a <= hi]


def measured_band(
    call: np.ndarray, background: np.ndarray, band_hz: tuple[float, float]
) -> tuple[float, float]:
    """5-95 % energy band of the call's spectral excess over the background, widened 10 %.

    The excess counts only at frequencies where the call's PSD is at least 3 dB above the
    background's (so that estimation noise over a wide hiss band does not widen the band).
    """
    nper = min(2048, call.size, background.size)
    f, p_call = scipy.signal.welch(call, SAMPLE_RATE_HZ, nperseg=nper)
    _, p_bg = scipy.signal.welch(background, SAMPLE_RATE_HZ, nperseg=nper)
    inside = (f >= band_hz[0]) & (f <= band_hz[1])
    excess = np.where(inside & (p_call > 2.0 * p_bg), p_call - p_bg, 0.0)  # >= 3 dB above
    if excess.sum() <= 0:
        return band_hz
    cum = np.cumsum(excess) / excess.sum()
    low, high = f[np.searchsorted(cum, 0.05)], f[np.searchsorted(cum, 0.95)]
    return float(max(band_hz[0], 0.9 * low)), float(min(band_hz[1], max(1.1 * high, low + 50)))


def _finish(cut: np.ndarray, low: float, high: float, source: str) -> Call:
    y = bandpass(cut, low, high)
    k = min(int(0.02 * SAMPLE_RATE_HZ), y.size // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    y[:k] *= ramp
    y[y.size - k :] *= ramp[::-1]
    return Call(y / max(float(np.max(np.abs(y))), 1e-12), low, high, source)


def cut_calls(
    x: np.ndarray,
    rel: str,
    band_hz: tuple[float, float],
    *,
    duration_s: tuple[float, float],
    detect_hz: tuple[float, float] | None = None,
    offset_s: float = 0.0,
) -> list[Call]:
    """Cut every call of one recording by the module's rule.

    ``detect_hz`` is the band the frames are measured in (default ``band_hz``, the band the
    call's own band is measured within); ``offset_s`` is added to the start in ``source``.
    """
    level = band_frames_db(x, [detect_hz or band_hz], frame_s=_FRAME_S, hop_s=_HOP_S)[0]  # (T,)
    if level.size < 4:
        return []
    quiet = level <= np.percentile(level, 20)
    hop, frame = int(_HOP_S * SAMPLE_RATE_HZ), int(_FRAME_S * SAMPLE_RATE_HZ)
    background = np.concatenate([x[i * hop : i * hop + frame] for i in np.flatnonzero(quiet)])
    calls = []
    for a, b in active_runs(level, duration_s=duration_s, threshold_db=CALL_THRESHOLD_DB):
        cut = x[a * hop : b * hop + frame]
        low, high = measured_band(cut, background, band_hz)
        calls.append(_finish(cut, low, high, f"{rel}@{offset_s + a * _HOP_S:.2f}s"))
    return calls


def humpback_units(sounds_dir: Path) -> list[Call]:
    """Humpback units of :data:`HUMPBACK_RECORDINGS` (out.mp3 song section, src.wav, Glacier Bay)."""
    units = []
    for rel, first_s, last_s, detect_hz in HUMPBACK_RECORDINGS:
        x = load_sound(sounds_dir, rel)
        stop = x.size if last_s is None else int(last_s * SAMPLE_RATE_HZ)
        seg = x[int(first_s * SAMPLE_RATE_HZ) : stop]
        units += cut_calls(
            seg, rel, HUMPBACK_BAND_HZ, duration_s=(0.5, 4.0), detect_hz=detect_hz, offset_s=first_s
        )
    return units


def catalogue_call(x: np.ndarray, rel: str) -> Call:
    """The one call of a labelled clip: frames within 20 dB of its loudest, band measured.

    The clip's frames more than 20 dB below its loudest serve as its background.
    """
    level = band_frames_db(x, [ORCA_BAND_HZ], frame_s=_FRAME_S, hop_s=_HOP_S)[0]  # (T,)
    hop, frame = int(_HOP_S * SAMPLE_RATE_HZ), int(_FRAME_S * SAMPLE_RATE_HZ)
    loud = np.flatnonzero(level > level.max() - 20.0)
    first, last = int(loud[0]) * hop, int(loud[-1]) * hop + frame
    quiet = np.flatnonzero(level <= np.percentile(level, 10))
    background = np.concatenate([x[i * hop : i * hop + frame] for i in quiet])
    low, high = measured_band(x[first:last], background, ORCA_BAND_HZ)
    return _finish(x[first:last], low, high, f"{rel}@{first / SAMPLE_RATE_HZ:.2f}s")


def orca_calls(sounds_dir: Path) -> list[Call]:
    """One call per labelled catalogue clip, plus the calls cut from the encounter recordings."""
    calls = []
    with open(sounds_dir / ORCA_LABELS, newline="") as f:
        names = [row["file"] for row in csv.DictReader(f)]
    for name in names:
        rel = f"{ORCA_CATALOG_DIR}/{name}"
        calls.append(catalogue_call(load_sound(sounds_dir, rel), rel))
    for rel in ORCA_ENCOUNTERS:
        x = load_sound(sounds_dir, rel)
        calls += cut_calls(x, rel, ORCA_BAND_HZ, duration_s=(0.3, 4.0))
    return calls


def ping_train(sounds_dir: Path) -> PingTrain:
    """Measure the OOI ping: pulses, period and the energy share below 12 kHz."""
    x, sr = soundfile.read(sounds_dir / PING_RECORDING, dtype="float64", always_2d=True)
    x = x.mean(axis=1) - x.mean()
    hi = min(32000.0, 0.49 * sr)
    sos = scipy.signal.butter(4, [5000.0, hi], "bandpass", fs=sr, output="sos")
    env = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x)))
    env = scipy.ndimage.uniform_filter1d(env, int(0.002 * sr))
    floor = np.median(env)
    peaks, _ = scipy.signal.find_peaks(env, height=10.0 * floor, distance=int(0.3 * sr))
    if peaks.size == 0:
        peaks = np.array([int(np.argmax(env))])
    period_s = float(np.median(np.diff(peaks)) / sr) if peaks.size > 1 else 1.2
    above = env > 0.1 * env[peaks[0]]
    start = peaks[0] - int(np.argmin(above[peaks[0] :: -1]))
    stop = peaks[0] + int(np.argmin(above[peaks[0] :]))
    pad = int(0.005 * sr)
    cut = x[max(0, start - pad) : stop + pad]
    spectrum = np.abs(np.fft.rfft(cut)) ** 2
    freqs = np.fft.rfftfreq(cut.size, 1.0 / sr)
    in_band = freqs >= 5000.0
    share = float(spectrum[in_band & (freqs < 12000.0)].sum() / spectrum[in_band].sum())
    ratio = Fraction(SAMPLE_RATE_HZ, int(sr)).limit_denominator(1000)
    y = scipy.signal.resample_poly(cut, ratio.numerator, ratio.denominator)
    source = f"{PING_RECORDING}@{max(0, start - pad) / sr:.2f}s"
    return PingTrain(_finish(y, *PING_BAND_HZ, source), period_s, share, int(peaks.size))
