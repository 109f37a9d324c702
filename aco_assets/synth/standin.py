"""A tiny stand-in for the recordings folder ``DIR``, so that tests need no real recordings.

:func:`write_stand_in_sounds` writes every file :func:`aco_assets.synth.sounds.required_files`
names, in the right formats (WAV, FLAC, OGG, MP3 via soundfile), with synthetic content: noisy
"ACO background" recordings (hiss, swell, system lines) with call-like sweeps planted at known
seconds (:data:`PLANTED_CALLS`), humpback-like units, orca-like calls and a ping chunk. Short, so
that a realistic archive built from it takes seconds.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile

from aco_assets.synth.sounds import (
    ORCA_CATALOG_DIR,
    ORCA_ENCOUNTERS,
    ORCA_LABELS,
    PING_RECORDING,
)

#: Call-like sweeps planted in the stand-in background recordings: recording -> (start s, end s).
PLANTED_CALLS: dict[str, tuple[tuple[float, float], ...]] = {
    "aco-acoio/aco_2013-01-01T000000_first30s.wav": ((6.2, 7.8), (17.1, 18.6)),
    "aco-acoio/out.mp3": ((10.0, 11.5), (30.0, 31.2), (60.0, 61.5), (151.2, 152.6)),
    "aco-real/src.wav": ((1.0, 2.4),),
}
_DURATIONS_S = {"aco-acoio/aco_2013-01-01T000000_first30s.wav": 30.0, "aco-acoio/out.mp3": 165.0}
_ORCA_CLIPS = ("FO-S01.flac", "FO-S02.flac", "FO-S07.flac")


def _sweep(rng: np.random.Generator, n: int, sr: int, f0: float, f1: float) -> np.ndarray:
    """A unit-peak tonal sweep with two harmonics under a Hann envelope, shape (n,)."""
    f = np.linspace(f0, f1, n) * (1.0 + 0.02 * np.sin(np.linspace(0, 6, n)))
    phase = 2 * np.pi * np.cumsum(f) / sr + rng.uniform(0, 6.3)
    return np.hanning(n) * (np.sin(phase) + 0.4 * np.sin(2 * phase))


def _noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """ACO-like noise: pink-ish hiss up to 8 kHz, swell, lines near 4.2 and 5.6 kHz, shape (n,)."""
    t = np.arange(n) / sr
    sos = scipy.signal.butter(4, [20, min(8000, 0.45 * sr)], "bandpass", fs=sr, output="sos")
    hiss = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    lines = 0.05 * (np.sin(2 * np.pi * 4150 * t) + np.sin(2 * np.pi * 5600 * t))
    return hiss + lines + 3.0 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6.3))


def _background(rng: np.random.Generator, rel: str, duration_s: float) -> np.ndarray:
    sr = 24_000
    x = _noise(rng, int(duration_s * sr), sr)
    for a, b in PLANTED_CALLS.get(rel, ()):
        n = int((b - a) * sr)
        x[int(a * sr) : int(a * sr) + n] += 1.5 * _sweep(rng, n, sr, 250.0, 330.0)
    if rel == "aco-acoio/out.mp3":  # the song section: more units in its first 137 s
        for a in np.arange(3.0, 135.0, 9.0):
            n = int(rng.uniform(0.8, 1.6) * sr)
            x[int(a * sr) : int(a * sr) + n] += 1.5 * _sweep(rng, n, sr, 200.0, 340.0)
    return 0.9 * x / np.max(np.abs(x))


def _calls(
    rng: np.random.Generator, sr: int, duration_s: float, band: tuple, at: list
) -> np.ndarray:
    """Quiet noise with sweeps in ``band`` at the start times ``at`` (s), unit peak."""
    x = 0.01 * rng.standard_normal(int(duration_s * sr))
    for a in at:
        n = int(rng.uniform(0.6, 1.4) * sr)
        x[int(a * sr) : int(a * sr) + n] += _sweep(rng, n, sr, *band)
    return 0.8 * x / np.max(np.abs(x))


def _ping_chunk(rng: np.random.Generator) -> np.ndarray:
    """5 s at 64 kHz: four 25 ms broadband pulses 1.2 s apart (energy mostly above 12 kHz)."""
    sr = 64_000
    x = 0.002 * rng.standard_normal(5 * sr) + 0.05 * np.sin(2 * np.pi * 50 * np.arange(5 * sr) / sr)
    sos = scipy.signal.butter(4, [6000, 30000], "bandpass", fs=sr, output="sos")
    for k in range(4):
        n = int(0.025 * sr)
        pulse = scipy.signal.sosfilt(sos, rng.standard_normal(n)) * np.hanning(n)
        x[int((0.9 + 1.2 * k) * sr) : int((0.9 + 1.2 * k) * sr) + n] += pulse
    return x / np.max(np.abs(x))


def write_stand_in_sounds(directory: str | os.PathLike, *, seed: int = 0) -> Path:
    """Write a stand-in recordings folder laid out like ``shared/data``; return its path.

    Parameters
    ----------
    directory : path-like
        Folder to write (created; existing files of the same names are overwritten).
    seed : int
        Seed of the synthetic content.

    Returns
    -------
    Path
        ``directory``, ready for ``aco synth --preset realistic --sounds``.
    """
    root = Path(directory)
    rng = np.random.default_rng(seed)

    def write(rel: str, x: np.ndarray, sr: int, **kw) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / rel, x.astype(np.float32), sr, **kw)

    for rel in PLANTED_CALLS:
        x = _background(rng, rel, _DURATIONS_S.get(rel, 4.0))
        write(rel, x, 24_000, **({"format": "MP3"} if rel.endswith(".mp3") else {}))
    hump = _calls(rng, 44_100, 12.0, (150.0, 900.0), [1.0, 3.5, 6.0, 9.0])
    write("humpback-glacier-bay/glacier-bay-humpback.hq.ogg", hump, 44_100, format="OGG")
    for name in _ORCA_CLIPS:
        write(
            f"{ORCA_CATALOG_DIR}/{name}", _calls(rng, 44_100, 1.6, (600.0, 1800.0), [0.2]), 44_100
        )
    with open(root / ORCA_LABELS, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "call_type", "suffix", "sr", "frames", "duration_s"])
        w.writerows([name, name[3:6], "", 44_100, 70_560, 1.6] for name in _ORCA_CLIPS)
    for rel, sr in zip(ORCA_ENCOUNTERS, (44_100, 44_100, 48_000), strict=True):
        write(rel, _calls(rng, sr, 8.0, (700.0, 3000.0), [1.0, 4.0, 6.0]), sr)
    write(PING_RECORDING, _ping_chunk(rng), 64_000, subtype="PCM_32")
    return root
