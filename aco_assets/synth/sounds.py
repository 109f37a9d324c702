"""The recordings folder (``DIR``, laid out like ``shared/data``): what the realistic preset reads.

Every path here is relative to ``DIR``; the recordings are read in place, never copied. A
recording is loaded as mono (channels averaged), dc removed, resampled to 24 kHz with
:func:`scipy.signal.resample_poly`, float64 in the recording's own units (full scale = 1).
"""

from __future__ import annotations

import csv
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soundfile

from aco_assets.synth.errors import SynthError

SAMPLE_RATE_HZ = 24_000

#: Real ACO noise used for the background (the 2015 file went through 1600 Hz: not used).
BACKGROUND_RECORDINGS: tuple[str, ...] = (
    "aco-acoio/out.mp3",
    "aco-acoio/aco_2013-01-01T000000_first30s.wav",
    "aco-real/src.wav",
)
#: Known song section (s) of out.mp3: tonal units throughout its first ~137 s (PROVENANCE.md).
SONG_SECTIONS: dict[str, tuple[float, float]] = {"aco-acoio/out.mp3": (0.0, 140.0)}
#: Humpback sources: (recording, first s, last s (None: the end), detection band Hz). The ACO
#: units sit at 130-370 Hz under strong hiss (PROVENANCE.md), so they are found in that band.
HUMPBACK_RECORDINGS: tuple[tuple[str, float, float | None, tuple[float, float]], ...] = (
    ("aco-acoio/out.mp3", 0.0, 140.0, (120.0, 400.0)),
    ("aco-real/src.wav", 0.0, None, (120.0, 450.0)),
    ("humpback-glacier-bay/glacier-bay-humpback.hq.ogg", 0.0, None, (100.0, 1500.0)),
)
ORCA_CATALOG_DIR = "orcasound-srkw-call-catalog"
ORCA_LABELS = f"{ORCA_CATALOG_DIR}/labels.csv"
ORCA_ENCOUNTERS: tuple[str, ...] = (
    "orcasound-orca-calls/j_pod.wav",
    "orcasound-orca-calls/someCalls.wav",
    "orcasound-orca-calls/210825-1925_L-highlight.wav",
)
PING_RECORDING = "ooi-rca-whalebooks/chunk52.wav"


def required_files(sounds_dir: str | os.PathLike) -> list[str]:
    """Every file the realistic preset reads, relative to ``sounds_dir`` (labels.csv first)."""
    rels = [*BACKGROUND_RECORDINGS, *(h[0] for h in HUMPBACK_RECORDINGS), ORCA_LABELS]
    labels = Path(sounds_dir) / ORCA_LABELS
    if labels.is_file():
        with open(labels, newline="") as f:
            rels += [f"{ORCA_CATALOG_DIR}/{row['file']}" for row in csv.DictReader(f)]
    rels += [*ORCA_ENCOUNTERS, PING_RECORDING]
    return list(dict.fromkeys(rels))


def check_sounds(sounds_dir: str | os.PathLike | None) -> Path:
    """Return ``sounds_dir`` as a Path, or raise :class:`SynthError` naming what is missing.

    Raises
    ------
    SynthError
        If ``sounds_dir`` is None, not a folder, or lacks a recording the preset needs (the
        message lists the missing paths relative to it).
    """
    if sounds_dir is None:
        raise SynthError(
            "the realistic preset builds its files from real recordings: pass --sounds DIR "
            "(a folder laid out like shared/data)"
        )
    root = Path(sounds_dir)
    if not root.is_dir():
        raise SynthError(f"--sounds {root}: no such folder")
    missing = [rel for rel in required_files(root) if not (root / rel).is_file()]
    if missing:
        shown = ", ".join(missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise SynthError(f"--sounds {root} lacks {shown} (paths relative to DIR)")
    return root


def load_sound(sounds_dir: Path, rel: str) -> np.ndarray:
    """Load one recording as mono 24 kHz float64, dc removed.

    Parameters
    ----------
    sounds_dir : Path
        The recordings folder.
    rel : str
        Path of the recording relative to it. Resampling low-passes at the new Nyquist, 12 kHz.

    Returns
    -------
    ndarray, shape (n,), float64
        Samples at 24 kHz, full scale = 1.

    Raises
    ------
    SynthError
        If the file cannot be decoded (names the file).
    """
    path = sounds_dir / rel
    try:
        x, sr = soundfile.read(path, dtype="float64", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as e:
        raise SynthError(f"{rel} (in --sounds): cannot be decoded ({e})") from e
    x = x.mean(axis=1)  # (n,)
    x -= x.mean()
    if sr != SAMPLE_RATE_HZ:
        ratio = Fraction(SAMPLE_RATE_HZ, int(sr)).limit_denominator(1000)
        x = scipy.signal.resample_poly(x, ratio.numerator, ratio.denominator)
    return x


def band_frames_db(
    x: np.ndarray, bands_hz: list[tuple[float, float]], *, frame_s: float, hop_s: float
) -> np.ndarray:
    """Band power per frame in dB (Hann-windowed FFT), shape (len(bands_hz), T).

    Parameters
    ----------
    x : ndarray, shape (n,), float
        Signal at 24 kHz.
    bands_hz : list of (low, high)
        Bands, Hz.
    frame_s, hop_s : float
        Frame length and hop, s.
    """
    frame, hop = int(frame_s * SAMPLE_RATE_HZ), int(hop_s * SAMPLE_RATE_HZ)
    n_frames = max(0, 1 + (x.size - frame) // hop)
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]  # (T, frame)
    spec = np.abs(scipy.fft.rfft(x[idx] * np.hanning(frame), axis=1)) ** 2  # (T, F)
    freqs = scipy.fft.rfftfreq(frame, 1.0 / SAMPLE_RATE_HZ)
    out = [spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in bands_hz]
    return 10.0 * np.log10(np.maximum(np.array(out), 1e-30))  # (B, T)


def bandpass(x: np.ndarray, low_hz: float, high_hz: float, *, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (forward-backward), shape as ``x``."""
    high = min(high_hz, 0.98 * SAMPLE_RATE_HZ / 2)
    sos = scipy.signal.butter(order, [low_hz, high], "bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    padlen = min(x.size - 1, 3 * 2 * order)
    return scipy.signal.sosfiltfilt(sos, x, padlen=padlen)
