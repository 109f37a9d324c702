"""The front end's settings, its errors and its result type.

:class:`FrontEndConfig` holds the one set of front-end defaults: the production front end
(the ``spectrograms`` asset's config and the model study take theirs from it).
:class:`WindowFeatures` is what :meth:`aco_assets.signal.features.FrontEnd.windows` returns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

#: Named band levels reported per window: (name, f_low_hz, f_high_hz).
DEFAULT_LEVEL_BANDS: tuple[tuple[str, float, float], ...] = (
    ("broadband_10_10000", 10.0, 10000.0),
    ("low_10_100", 10.0, 100.0),
    ("mid_100_1000", 100.0, 1000.0),
    ("high_1000_10000", 1000.0, 10000.0),
)


#: ``FrontEndConfig.normalise`` values.
NORMALISE_MODES: tuple[str, ...] = ("none", "file_median", "file_median_and_absolute")


class FrontEndError(ValueError):
    """Base class of the front end's errors."""


class FrontEndConfigError(FrontEndError):
    """A `FrontEndConfig` whose values cannot give a valid band/frame layout."""


class FrontEndInputError(FrontEndError):
    """Samples that are not a 1-D real array."""


@dataclass(frozen=True)
class FrontEndConfig:
    """Settings of the front end; the defaults are the production choice (the ``spectrograms``
    asset's config takes its defaults from here).

    Stored with every saved model and in the DuckDB metadata (`to_dict` / `from_dict`).

    Attributes
    ----------
    sample_rate_hz : int
        Sample rate of the input, Hz (ACO ``HYD24BBpk``: 24000).
    window_s : float
        Analysis window length, s. Windows are non-overlapping and aligned to the first sample.
    n_bands : int
        F, number of log-spaced bands between `f_min_hz` and `f_max_hz`.
    f_min_hz, f_max_hz : float
        Lower edge of the first band and upper edge of the last band, Hz.
    n_frames : int
        T, frames per window (default 32: 156.25 ms each).
    nfft : int
        Main STFT frame length, samples (1500: 62.5 ms, 16 Hz bins).
    hop_samples : int
        Main STFT hop, samples (750: 50 % overlap).
    low_split_hz : float
        Bands whose upper edge is at most this come from the low path, Hz.
    low_block : int
        Pre-decimation factor of the triangular block filter (24 kHz / 8 = 3 kHz).
    low_down : int
        `resample_poly` down factor after the block filter (3 kHz / 6 = 500 Hz).
    low_nfft : int
        Low-path frame length, samples at the low rate (500: 1 s, 1 Hz bins).
    low_hop : int
        Low-path hop, samples at the low rate (250: 0.5 s).
    highpass_hz : float
        Corner of the low path's 4th-order Butterworth high-pass, Hz.
    floor_db : float
        Floor of every power before the log, dB re 1 count^2/Hz (levels: re 1 count^2).
    max_missing_share : float
        Windows with a larger share of missing samples are marked invalid, in [0, 1].
    normalise : {"none", "file_median", "file_median_and_absolute"}
        ``"file_median"`` (the default, the production front end, docs/model_results.md): each
        band minus its median over all frames of the valid windows of the samples given (one
        file in the pipeline), i.e. dB above the file's own background: the spectral
        equalisation of PAM detectors, which keeps transients and removes what changes slowly
        (season, time of day, instrument gain drift). ``"none"``: features are absolute band
        PSDs (dB re 1 count^2/Hz). ``"file_median_and_absolute"``: two channels, the
        file-median equalised features (channel 0) and the absolute ones (channel 1), so that
        what lasts a whole file (a passing ship, a long blue whale call series) stays visible
        beside the transients; the model study's ``two_channels`` variant measures it
        (docs/model_results.md). ``levels`` stay absolute in every mode.
    level_bands : tuple of (str, float, float)
        Named bands (name, f_low_hz, f_high_hz) whose levels are reported per window.
    """

    sample_rate_hz: int = 24000
    window_s: float = 5.0
    n_bands: int = 64
    f_min_hz: float = 10.0
    f_max_hz: float = 10000.0
    n_frames: int = 32
    nfft: int = 1500
    hop_samples: int = 750
    low_split_hz: float = 200.0
    low_block: int = 8
    low_down: int = 6
    low_nfft: int = 500
    low_hop: int = 250
    highpass_hz: float = 5.0
    floor_db: float = -60.0
    max_missing_share: float = 0.1
    normalise: Literal["none", "file_median", "file_median_and_absolute"] = "file_median"
    level_bands: tuple[tuple[str, float, float], ...] = field(default=DEFAULT_LEVEL_BANDS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (`level_bands` as lists)."""
        out = dataclasses.asdict(self)
        out["level_bands"] = [list(b) for b in self.level_bands]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontEndConfig:
        """Inverse of `to_dict`; missing keys take the defaults, unknown keys raise."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FrontEndConfigError(
                f"unknown FrontEndConfig keys {unknown}; known keys are {sorted(known)}"
            )
        kwargs = dict(data)
        if "level_bands" in kwargs:
            kwargs["level_bands"] = tuple(
                (str(n), float(lo), float(hi)) for n, lo, hi in kwargs["level_bands"]
            )
        return cls(**kwargs)


@dataclass(frozen=True)
class WindowFeatures:
    """The analysis windows of one stretch of samples.

    Attributes
    ----------
    features : np.ndarray, shape (N, 1, F, T), float32
        Band power spectral density, dB re 1 count^2/Hz, floored at ``floor_db``; finite.
    offsets_s : np.ndarray, shape (N,), float64
        Start of each window relative to the first sample, s.
    missing_share : np.ndarray, shape (N,), float64
        Share of the window's samples that were missing (NaN or infinite), in [0, 1].
    valid : np.ndarray, shape (N,), bool
        ``missing_share <= max_missing_share`` and all features finite.
    levels : dict[str, np.ndarray]
        Per named band, shape (N,) float64: band power over the window, dB re 1 count^2
        (mean square of the band-passed signal; resolution of the F bands, partial bands
        weighted by their overlap in Hz).
    """

    features: np.ndarray
    offsets_s: np.ndarray
    missing_share: np.ndarray
    valid: np.ndarray
    levels: dict[str, np.ndarray]

    @property
    def n_windows(self) -> int:
        """N, the number of windows."""
        return int(self.features.shape[0])


def check_config(cfg: FrontEndConfig) -> None:
    """Raise :class:`FrontEndConfigError` naming every value of ``cfg`` that cannot give a
    valid band/frame layout."""
    fs = cfg.sample_rate_hz
    problems = []
    if not 0 < cfg.f_min_hz < cfg.f_max_hz <= fs / 2:
        problems.append(f"need 0 < f_min_hz < f_max_hz <= {fs / 2} Hz")
    if abs(cfg.window_s * fs - round(cfg.window_s * fs)) > 1e-6:
        problems.append(f"window_s={cfg.window_s} s is not a whole number of samples")
    elif round(cfg.window_s * fs) % (cfg.low_block * cfg.low_down):
        problems.append("window samples must be a multiple of low_block * low_down")
    if cfg.normalise not in NORMALISE_MODES:
        problems.append(
            f"normalise must be one of {', '.join(map(repr, NORMALISE_MODES))}, "
            f"got {cfg.normalise!r}"
        )
    if cfg.n_bands < 1 or cfg.n_frames < 1 or cfg.nfft < 2 or cfg.hop_samples < 1:
        problems.append("n_bands, n_frames, hop_samples must be >= 1 and nfft >= 2")
    if cfg.nfft > cfg.window_s * fs or cfg.low_nfft * cfg.low_block * cfg.low_down > (
        cfg.window_s * fs
    ):
        problems.append("nfft and low_nfft must fit in one window")
    low_rate = fs / (cfg.low_block * cfg.low_down)
    if cfg.low_split_hz > 0.45 * low_rate:
        problems.append(f"low_split_hz must be <= 0.45 * low rate ({0.45 * low_rate} Hz)")
    if not 0.0 <= cfg.max_missing_share <= 1.0:
        problems.append("max_missing_share must lie in [0, 1]")
    if problems:
        raise FrontEndConfigError(f"invalid FrontEndConfig ({cfg}): " + "; ".join(problems))
