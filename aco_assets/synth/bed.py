"""The realistic background: call-free seconds of real ACO noise, equalised and tiled.

Measurement rule (per recording of :data:`~aco_assets.synth.sounds.BACKGROUND_RECORDINGS`, in
whole seconds; levels against the recording's own median second):

- energy: exclude a second whose 100-2000 Hz or 2-8 kHz band power exceeds the median by more
  than :data:`ENERGY_THRESHOLD_DB`, or whose 20-100 Hz power exceeds it by more than
  :data:`LOW_BAND_THRESHOLD_DB` (the 20-100 Hz band wanders more with the swell);
- tonality: exclude a second if either half-second's 120-450 Hz tonality (largest over median
  bin power of a Hann spectrum) exceeds the recording's median tonality by more than
  :data:`TONALITY_THRESHOLD_DB` (the band-ratio detector of ``events_measured.csv``);
- known song: exclude :data:`~aco_assets.synth.sounds.SONG_SECTIONS` (out.mp3, 0-140 s);
- guard: exclude the neighbours of every excluded second.

The 2015 file is not used: it went through 1600 Hz (nothing above 800 Hz).

Each recording is then equalised toward one long-term spectrum, the median over all kept seconds
(each recording first scaled to unit power in 100-2000 Hz) of their Welch spectra: a smooth EQ
filter (gain in dB smoothed over 1/3 octave, clamped to +-:data:`MAX_EQ_DB`, high-passed at
10 Hz). Files are tiled from random pieces of the kept runs with equal-power crossfades.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal

from aco_assets.synth.sounds import (
    BACKGROUND_RECORDINGS,
    SAMPLE_RATE_HZ,
    SONG_SECTIONS,
    band_frames_db,
    load_sound,
)

logger = logging.getLogger(__name__)

ENERGY_THRESHOLD_DB = 3.0
LOW_BAND_THRESHOLD_DB = 6.0
TONALITY_THRESHOLD_DB = 6.0
MAX_EQ_DB = 12.0
_NPERSEG = 2048


@dataclass(frozen=True)
class BedRecording:
    """One background recording after measurement.

    Attributes
    ----------
    rel : str
        Path relative to the recordings folder.
    duration_s : float
        Length, s.
    kept : ndarray of bool, shape (S,)
        Per whole second: kept as background.
    reasons : dict of str to int
        Seconds excluded by each criterion (a second may count under several).
    eq_range_db : (float, float)
        Smallest and largest EQ gain applied in 20 Hz-8 kHz, dB.
    samples : ndarray, shape (n,), float64
        The equalised recording (unit power of the kept seconds' pool).
    """

    rel: str
    duration_s: float
    kept: np.ndarray
    reasons: dict[str, int]
    eq_range_db: tuple[float, float]
    samples: np.ndarray

    def runs_s(self) -> list[tuple[int, int]]:
        """Runs of consecutive kept seconds as (first, end) second indices."""
        edges = np.flatnonzero(np.diff(np.concatenate([[0], self.kept.astype(int), [0]])))
        return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _tonality_db(x: np.ndarray, n_seconds: int) -> np.ndarray:
    """120-450 Hz tonality of each half second, dB, shape (2 * n_seconds,)."""
    n = SAMPLE_RATE_HZ // 2
    seg = x[: 2 * n_seconds * n].reshape(2 * n_seconds, n) * np.hanning(n)  # (2S, n)
    power = np.abs(scipy.fft.rfft(seg, axis=1)) ** 2
    freqs = scipy.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    band = power[:, (freqs >= 120.0) & (freqs < 450.0)]
    return 10.0 * np.log10(band.max(axis=1) / np.maximum(np.median(band, axis=1), 1e-30))


def exclusion_flags(x: np.ndarray, rel: str) -> dict[str, np.ndarray]:
    """Per-second exclusion criteria of the module's rule, each bool (S,) (guard not applied)."""
    n_seconds = x.size // SAMPLE_RATE_HZ
    bands = band_frames_db(x, [(20, 100), (100, 2000), (2000, 8000)], frame_s=1.0, hop_s=1.0)
    rel_db = bands - np.median(bands, axis=1, keepdims=True)  # (3, S)
    energy = (rel_db[0] > LOW_BAND_THRESHOLD_DB) | (rel_db[1:] > ENERGY_THRESHOLD_DB).any(axis=0)
    tonal = _tonality_db(x, n_seconds)
    tonal = (tonal - np.median(tonal) > TONALITY_THRESHOLD_DB).reshape(n_seconds, 2).any(axis=1)
    song = np.zeros(n_seconds, bool)
    if rel in SONG_SECTIONS:
        first, last = SONG_SECTIONS[rel]
        song[int(first) : int(np.ceil(last))] = True
    return {"energy": energy, "tonality": tonal, "song_section": song}


def kept_seconds(x: np.ndarray, rel: str) -> tuple[np.ndarray, dict[str, int]]:
    """Seconds kept as background (bool (S,)) and the count excluded by each criterion."""
    flags = exclusion_flags(x, rel)
    excluded = np.logical_or.reduce(list(flags.values()))
    guarded = excluded.copy()
    guarded[1:] |= excluded[:-1]
    guarded[:-1] |= excluded[1:]
    reasons = {k: int(v.sum()) for k, v in flags.items()}
    reasons["guard"] = int(guarded.sum() - excluded.sum())
    return ~guarded, reasons


def _kept_psd(x: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Welch PSD of every kept second, shape (K, F)."""
    seconds = x[: kept.size * SAMPLE_RATE_HZ].reshape(kept.size, SAMPLE_RATE_HZ)[kept]
    return scipy.signal.welch(seconds, SAMPLE_RATE_HZ, nperseg=_NPERSEG, axis=1)[1]


def _eq_gain_db(own: np.ndarray, target: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Smooth EQ gain (dB, (F,)) taking the ``own`` PSD to ``target`` (1/3-octave smoothing)."""
    raw = 10.0 * np.log10(np.maximum(target, 1e-30) / np.maximum(own, 1e-30))
    smooth = np.empty_like(raw)
    for i, f in enumerate(freqs):
        near = (freqs >= f * 2 ** (-1 / 6)) & (freqs <= f * 2 ** (1 / 6))
        smooth[i] = raw[near].mean() if near.any() else raw[i]
    return np.clip(smooth, -MAX_EQ_DB, MAX_EQ_DB)


def _apply_eq(x: np.ndarray, freqs: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    n_fft = scipy.fft.next_fast_len(x.size, real=True)
    grid = scipy.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE_HZ)
    gain = 10.0 ** (np.interp(grid, freqs, gain_db) / 20.0)
    gain *= np.clip((grid - 5.0) / 5.0, 0.0, 1.0)  # high-pass at 10 Hz: the swell is added later
    return scipy.fft.irfft(scipy.fft.rfft(x, n_fft) * gain, n_fft)[: x.size]


def measure_background(sounds_dir: Path) -> list[BedRecording]:
    """Measure, equalise and level the background recordings (see the module docstring).

    Returns
    -------
    list of BedRecording
        One per recording of :data:`BACKGROUND_RECORDINGS`, samples at unit power over all
        kept seconds together.
    """
    raw = []
    freqs = scipy.fft.rfftfreq(_NPERSEG, 1.0 / SAMPLE_RATE_HZ)  # (F,) Welch's grid
    band = (freqs >= 100.0) & (freqs < 2000.0)
    for rel in BACKGROUND_RECORDINGS:
        x = load_sound(sounds_dir, rel)
        kept, reasons = kept_seconds(x, rel)
        if not kept.any():
            logger.info("%s: no call-free second kept", rel)
            raw.append((rel, x, kept, reasons, np.zeros((0, freqs.size))))
            continue
        psds = _kept_psd(x, kept)  # (K, F)
        scale = 1.0 / np.sqrt(max(float(np.median(psds[:, band].sum(axis=1))), 1e-30))
        raw.append((rel, x * scale, kept, reasons, psds * scale**2))
    target = np.median(np.concatenate([p for *_, p in raw if p.size]), axis=0)  # (F,)
    out, powers = [], []
    audible = (freqs >= 20.0) & (freqs <= 8000.0)
    for rel, x, kept, reasons, psds in raw:
        if not psds.size:
            out.append(BedRecording(rel, x.size / SAMPLE_RATE_HZ, kept, reasons, (0.0, 0.0), x))
            continue
        gain_db = _eq_gain_db(np.median(psds, axis=0), target, freqs)
        y = _apply_eq(x, freqs, gain_db)
        seconds = y[: kept.size * SAMPLE_RATE_HZ].reshape(kept.size, -1)[kept]
        powers.append((float(np.sum(seconds**2)), seconds.size))
        eq_range = (float(gain_db[audible].min()), float(gain_db[audible].max()))
        out.append(BedRecording(rel, x.size / SAMPLE_RATE_HZ, kept, reasons, eq_range, y))
    level = np.sqrt(sum(e for e, _ in powers) / max(sum(n for _, n in powers), 1))
    return [BedRecording(**{**r.__dict__, "samples": r.samples / level}) for r in out]


def tile_bed(
    bed: list[BedRecording],
    n_samples: int,
    rng: np.random.Generator,
    *,
    piece_s: tuple[float, float] = (2.0, 8.0),
    crossfade_s: float = 0.05,
) -> np.ndarray:
    """Tile ``n_samples`` of background from random pieces of the kept runs.

    Pieces are drawn with probability proportional to run length, with a uniform length in
    ``piece_s`` (shortened to the run) and a random offset, and joined with equal-power
    (sine/cosine) crossfades of ``crossfade_s``.

    Returns
    -------
    ndarray, shape (n_samples,), float64
        Unit-power background (high-passed at 10 Hz).
    """
    runs = [(r.samples, a, b) for r in bed for a, b in r.runs_s()]
    lengths = np.array([b - a for _, a, b in runs], float)
    fade = int(crossfade_s * SAMPLE_RATE_HZ)
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)  # (fade,) rising
    out = np.zeros(n_samples + fade)
    pos = 0
    while pos < n_samples:
        samples, a, b = runs[int(rng.choice(len(runs), p=lengths / lengths.sum()))]
        span = (b - a) * SAMPLE_RATE_HZ
        n = int(min(rng.uniform(*piece_s) * SAMPLE_RATE_HZ, span))
        first = a * SAMPLE_RATE_HZ + int(rng.integers(0, span - n + 1))
        piece = samples[first : first + n].copy()
        piece[:fade] *= ramp
        piece[-fade:] *= ramp[::-1]
        stop = min(pos + n, out.size)
        out[pos:stop] += piece[: stop - pos]
        pos += n - fade
    return out[:n_samples]
