"""The spectrogram front end shared by training and scoring.

One ACO file's samples become non-overlapping analysis windows of ``window_s`` seconds, each a
log-frequency spectrogram of ``F`` log-spaced bands by ``T`` frames, in dB re 1 count^2/Hz.

Two paths feed the bands (DESIGN.md, "The front end"):

* the **low path** (bands whose upper edge is at most ``low_split_hz``): the signal is
  pre-decimated by a triangular block filter (length ``2 * low_block - 1``, response
  ``sinc^2`` with double nulls on multiples of ``fs / low_block``, i.e. 3 kHz), brought to
  ``low_rate_hz`` as ``scipy.signal.resample_poly(y, 1, low_down, padtype="line")`` computes it
  (:class:`aco_assets.signal.polyphase.LineDecimator`: the same filter, at the output samples only, in
  float64), high-passed (Butterworth, ``highpass_hz``)
  to remove the slow offset wander (+-8e4 counts below ~5 Hz), then framed in ``low_nfft``
  frames (1 s, 1 Hz bins: blue whale tones at 16.5 and 18.5 Hz fall in different bands);
* the **main path** (all other bands): a Hann STFT at the full rate (``nfft`` samples,
  ``hop_samples`` hop, 62.5 ms / 16 Hz by default). The periodic Hann window confines a frame's
  DC to bins 0 and 1, which no main band uses, so the offset needs no further removal here.

Per-bin power spectral densities (one-sided, counts^2/Hz, Welch scaling) are averaged over the
bins of each band and over the STFT frames whose centre falls in each of the ``T`` frames; the
low path (1 s frames) is linearly interpolated onto the same ``T`` frame centres. The main path
runs window by window (``chunk_windows``) so that the frames, their spectra and their squared
magnitudes stay in cache; each band sum adds the squared real and imaginary parts of its bins,
squared in place in the spectrum (no ``abs``, no per-bin power array).

Dimension letters: N windows, F bands, T frames, M STFT frames per window, K frequency bins,
L named level bands.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.fft
import scipy.signal

from aco_assets.signal.polyphase import LineDecimator

log = logging.getLogger(__name__)

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
    """Settings of the front end; the defaults are the production choice.

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
        ``"none"``: features are absolute band PSDs (dB re 1 count^2/Hz). ``"file_median"``:
        each band minus its median over all frames of the valid windows of the samples given
        (one file in the pipeline), i.e. dB above the file's own background: the spectral
        equalisation of PAM detectors, which keeps transients and removes what changes slowly
        (season, time of day, instrument gain drift). ``"file_median_and_absolute"``: two
        channels, the file-median equalised features (channel 0) and the absolute ones
        (channel 1), so that what lasts a whole file (a passing ship, a long blue whale call
        series) stays visible beside the transients; the lineage uses it
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
    normalise: Literal["none", "file_median", "file_median_and_absolute"] = "none"
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


def _bin_starts(freqs: np.ndarray, edges: np.ndarray, what: str) -> np.ndarray:
    """Start index per band of the bins whose centre lies in [edge_k, edge_k+1); (F+1,)."""
    idx = np.searchsorted(freqs, edges, side="left")
    empty = np.flatnonzero(np.diff(idx) == 0)
    if empty.size:
        k = int(empty[0])
        raise FrontEndConfigError(
            f"{what}: band {k} ({edges[k]:.2f}-{edges[k + 1]:.2f} Hz) holds no frequency bin "
            f"(bin spacing {freqs[1] - freqs[0]:.2f} Hz); use fewer bands or a longer frame"
        )
    return idx


class FrontEnd:
    """Turns samples into `WindowFeatures`; owns its config and derives its axes.

    Parameters
    ----------
    config : FrontEndConfig, optional
        Defaults to ``FrontEndConfig()``.
    """

    def __init__(self, config: FrontEndConfig | None = None) -> None:
        self.config = cfg = config if config is not None else FrontEndConfig()
        self._check_config(cfg)
        fs = cfg.sample_rate_hz
        self.window_samples = int(round(cfg.window_s * fs))
        edges = np.geomspace(cfg.f_min_hz, cfg.f_max_hz, cfg.n_bands + 1)
        self._edges = edges
        self.n_low_bands = int(np.sum(edges[1:] <= cfg.low_split_hz))
        nl = self.n_low_bands
        self._init_main_path(cfg, edges[nl:])
        self._init_low_path(cfg, edges[: nl + 1])
        self._init_levels(cfg, edges)

    def _init_main_path(self, cfg: FrontEndConfig, edges: np.ndarray) -> None:
        """Hann STFT frames; bins grouped into the F_main bands, frames into the T frames."""
        fs = cfg.sample_rate_hz
        t_frame = self.window_samples / cfg.n_frames  # samples per T frame
        self._win = scipy.signal.get_window("hann", cfg.nfft).astype(np.float32)
        self._main_scale = 2.0 / (fs * float(np.sum(self._win.astype(np.float64) ** 2)))
        freqs = scipy.fft.rfftfreq(cfg.nfft, 1.0 / fs)
        idx = _bin_starts(freqs, edges, "main path")
        self._main_bins = (int(idx[0]), int(idx[-1]))
        self._main_starts = idx[:-1] - idx[0]
        self._main_counts = np.diff(idx).astype(np.float64)  # (F_main,)
        self.n_stft_frames = (self.window_samples - cfg.nfft) // cfg.hop_samples + 1
        m_centres = np.arange(self.n_stft_frames) * cfg.hop_samples + cfg.nfft / 2
        groups = np.minimum((m_centres // t_frame).astype(int), cfg.n_frames - 1)
        self._frame_starts = np.searchsorted(groups, np.arange(cfg.n_frames))
        counts = np.diff(np.append(self._frame_starts, self.n_stft_frames))
        if np.any(counts == 0):
            raise FrontEndConfigError(
                f"main path: hop_samples={cfg.hop_samples} leaves a frame of "
                f"{t_frame / fs * 1e3:.1f} ms without an STFT frame; lower the hop or n_frames"
            )
        self._frame_counts = counts.astype(np.float64)  # (T,)
        self._frame_sum = (groups[None, :] == np.arange(cfg.n_frames)[:, None]).astype(np.float32)
        scale = self._main_scale / np.outer(self._frame_counts, self._main_counts)  # (T, F_main)
        self._main_scale_tf = scale.astype(np.float32)

    def _init_low_path(self, cfg: FrontEndConfig, edges: np.ndarray) -> None:
        """Triangle + resample_poly + high-pass; 1 s frames interpolated onto the T frames."""
        fs = cfg.sample_rate_hz
        t_centres = (np.arange(cfg.n_frames) + 0.5) * self.frame_s  # (T,) s
        self.low_rate_hz = fs / (cfg.low_block * cfg.low_down)
        self.window_low_samples = self.window_samples // (cfg.low_block * cfg.low_down)
        self._low_win = scipy.signal.get_window("hann", cfg.low_nfft).astype(np.float32)
        self._low_scale = 2.0 / (self.low_rate_hz * float(np.sum(self._low_win**2.0)))
        n_low_frames = (self.window_low_samples - cfg.low_nfft) // cfg.low_hop + 1
        low_centres = (np.arange(n_low_frames) * cfg.low_hop + cfg.low_nfft / 2) / self.low_rate_hz
        eye = np.eye(n_low_frames)
        self._low_interp = np.stack([np.interp(t_centres, low_centres, e) for e in eye])  # (M, T)
        self._low_interp = self._low_interp.astype(np.float32)
        if self.n_low_bands:
            lfreqs = scipy.fft.rfftfreq(cfg.low_nfft, 1.0 / self.low_rate_hz)
            lidx = _bin_starts(lfreqs, edges, "low path")
            self._low_bins = (int(lidx[0]), int(lidx[-1]))
            self._low_starts = lidx[:-1] - lidx[0]
            self._low_counts = np.diff(lidx).astype(np.float64)
            self._sos = scipy.signal.butter(
                4, cfg.highpass_hz, "highpass", fs=self.low_rate_hz, output="sos"
            )
        tri = np.convolve(np.ones(cfg.low_block), np.ones(cfg.low_block))
        tri = (tri / tri.sum()).astype(np.float32)  # (2 * low_block - 1,)
        tri_hi = np.append(tri[cfg.low_block :], np.float32(0.0))
        self._tri = np.stack([tri[: cfg.low_block], tri_hi], axis=1)  # (low_block, 2)
        self._decimation = LineDecimator.of(cfg.low_down) if cfg.low_down > 1 else None

    def _init_levels(self, cfg: FrontEndConfig, edges: np.ndarray) -> None:
        """Overlap in Hz of each named level band with each feature band, (L, F)."""
        lo, hi = edges[:-1], edges[1:]
        self._level_names = [name for name, _, _ in cfg.level_bands]
        self._level_weights = (
            np.stack(
                [
                    np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
                    for _, a, b in cfg.level_bands
                ]
            )
            if cfg.level_bands
            else np.zeros((0, cfg.n_bands))
        )  # (L, F) Hz

    @staticmethod
    def _check_config(cfg: FrontEndConfig) -> None:
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

    @property
    def band_edges_hz(self) -> np.ndarray:
        """Band edges, shape (F+1,), float64, Hz, log-spaced from f_min_hz to f_max_hz."""
        return self._edges.copy()

    @property
    def band_centers_hz(self) -> np.ndarray:
        """Geometric band centres, shape (F,), float64, Hz."""
        return np.sqrt(self._edges[:-1] * self._edges[1:])

    @property
    def frame_s(self) -> float:
        """Duration of one of the T frames, s."""
        return self.config.window_s / self.config.n_frames

    @property
    def frame_offsets_s(self) -> np.ndarray:
        """Start of each frame relative to its window's start, shape (T,), float64, s."""
        return np.arange(self.config.n_frames) * self.frame_s

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """Shape of one window's features, (C, F, T): C = 2 for ``file_median_and_absolute``."""
        channels = 2 if self.config.normalise == "file_median_and_absolute" else 1
        return (channels, self.config.n_bands, self.config.n_frames)

    def windows(
        self,
        samples: np.ndarray,
        *,
        valid: np.ndarray | None = None,
        chunk_windows: int = 1,
        workers: int = 1,
    ) -> WindowFeatures:
        """Cut samples into analysis windows and compute their features.

        Parameters
        ----------
        samples : np.ndarray, shape (n,), float (or int)
            Raw counts at ``sample_rate_hz``; NaN (or inf) marks a missing sample. Missing runs
            are bridged by linear interpolation between their valid neighbours before any
            filtering (no step, hence no spectral splatter) and counted per window.
        valid : np.ndarray, shape (n,), bool, optional
            False marks a missing sample too (e.g. the decoder's mask beside its int32 counts,
            which then need no float64 copy with NaN); None: only non-finite samples are missing.
        chunk_windows : int
            Windows per STFT batch (memory/cache trade-off only; results do not depend on it).
        workers : int
            Threads of each FFT (``scipy.fft``'s ``workers``); results do not depend on it.

        Returns
        -------
        WindowFeatures
            ``N = n // window_samples`` windows; a trailing partial window shorter than
            ``window_s`` is dropped (logged at DEBUG).
        """
        x = np.asarray(samples)
        if x.ndim != 1 or not (
            np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
        ):
            raise FrontEndInputError(
                f"samples must be a 1-D real array, got shape {x.shape} dtype {x.dtype}"
            )
        if valid is not None and np.shape(valid) != x.shape:
            raise FrontEndInputError(
                f"valid must have the shape of samples {x.shape}, got {np.shape(valid)}"
            )
        w = self.window_samples
        n = x.shape[0] // w
        if x.shape[0] % w:
            log.debug("dropping a trailing partial window of %d samples", x.shape[0] % w)
        x32 = x[: n * w].astype(np.float32)  # (N * W,), a copy: gaps are bridged in place
        ok = None if valid is None else np.asarray(valid, bool)[: n * w]
        missing = _missing(x32, ok, floating=np.issubdtype(x.dtype, np.floating))
        if missing is None:
            missing_share = np.zeros(n)
        else:
            missing_share = np.bincount(np.flatnonzero(missing) // w, minlength=n) / w  # (N,)
            _bridge_gaps(x32, missing)
        power = np.empty((n, self.config.n_bands, self.config.n_frames), np.float32)  # (N, F, T)
        nl = self.n_low_bands
        if n and nl:
            power[:, :nl] = self._low_path(x32, n)
        if n:
            self._main_path(x32, power[:, nl:], chunk_windows=chunk_windows, workers=workers)
        return self._finish(power, missing_share)

    def _finish(self, power: np.ndarray, missing_share: np.ndarray) -> WindowFeatures:
        """Band PSDs (N, F, T) float32 -> floored dB features, levels, validity, normalisation."""
        n = power.shape[0]
        floor = np.float32(10.0 ** (self.config.floor_db / 10.0))
        features = (10.0 * np.log10(np.maximum(power, floor)))[:, None]  # (N, 1, F, T)
        band_power = power.mean(axis=2, dtype=np.float64) @ self._level_weights.T  # (N, L)
        band_db = 10.0 * np.log10(np.maximum(band_power, float(floor)))
        levels = {name: band_db[:, j].copy() for j, name in enumerate(self._level_names)}
        valid = (missing_share <= self.config.max_missing_share) & np.isfinite(features).all(
            axis=(1, 2, 3)
        )
        if self.config.normalise != "none":
            ref = features[valid] if valid.any() else features  # (N', 1, F, T)
            median = np.median(ref[:, 0], axis=(0, 2)) if n else 0.0  # (F,)
            relative = features - np.asarray(median, np.float32)[None, None, :, None]
            if self.config.normalise == "file_median":
                features = relative  # (N, 1, F, T)
            else:
                features = np.concatenate([relative, features], axis=1)  # (N, 2, F, T)
        return WindowFeatures(
            features=features.astype(np.float32, copy=False),
            offsets_s=np.arange(n) * self.config.window_s,
            missing_share=missing_share,
            valid=valid,
            levels=levels,
        )

    def _main_path(
        self, x: np.ndarray, out: np.ndarray, *, chunk_windows: int, workers: int
    ) -> None:
        """Main-path band PSDs of whole windows x (N * W,) float32 into out (N, F_main, T)."""
        cfg = self.config
        w, m = self.window_samples, self.n_stft_frames
        n = x.shape[0] // w
        s = x.strides[0]
        frames = np.lib.stride_tricks.as_strided(
            x, shape=(n, m, cfg.nfft), strides=(w * s, cfg.hop_samples * s, s), writeable=False
        )  # (N, M, nfft)
        k0, k1 = self._main_bins
        step = max(1, min(int(chunk_windows), n))
        buf = np.empty((step, m, cfg.nfft), np.float32)  # (c, M, nfft)
        for i in range(0, n, step):
            c = min(step, n - i)
            windowed = np.multiply(frames[i : i + c], self._win, out=buf[:c])  # (c, M, nfft)
            spec = scipy.fft.rfft(windowed, axis=-1, workers=workers)  # (c, M, nfft // 2 + 1)
            re_im = spec.view(np.float32)[..., 2 * k0 : 2 * k1]  # (c, M, 2K) interleaved
            sq = np.square(re_im, out=re_im)  # re^2, im^2 in place
            p = np.add.reduceat(sq, 2 * self._main_starts, axis=-1)  # (c, M, F_main)
            p = self._frame_sum @ p  # (c, T, F_main)
            p *= self._main_scale_tf
            out[i : i + c] = p.transpose(0, 2, 1)  # (c, F_main, T)

    def _low_path(self, x: np.ndarray, n: int) -> np.ndarray:
        """Low-path band PSDs of N whole windows x (N * W,) float32 -> (N, F_low, T)."""
        cfg = self.config
        g = x.reshape(-1, cfg.low_block) @ self._tri  # (N * W / low_block, 2) block sums
        y = g[:, 0].copy()  # triangular block filter, (N * W / low_block,)
        y[:-1] += g[1:, 1]
        y[-1] += g[-1, 1]  # the last block is extended by itself
        z = y.astype(np.float64) if self._decimation is None else self._decimation(y)
        zi = scipy.signal.sosfilt_zi(self._sos) * z[0]
        z = scipy.signal.sosfilt(self._sos, z, zi=zi)[0].astype(np.float32)  # (N * W_low,)
        z = z[: n * self.window_low_samples]
        s = z.strides[0]
        frames = np.lib.stride_tricks.as_strided(
            z,
            shape=(n, self._low_interp.shape[0], cfg.low_nfft),
            strides=(self.window_low_samples * s, cfg.low_hop * s, s),
            writeable=False,
        )  # (N, M_low, low_nfft)
        spec = scipy.fft.rfft(frames * self._low_win, axis=-1)  # (N, M_low, low_nfft // 2 + 1)
        k0, k1 = self._low_bins
        sq = np.square(spec.view(np.float32)[..., 2 * k0 : 2 * k1])  # (N, M_low, 2K_low)
        p = np.add.reduceat(sq, 2 * self._low_starts, axis=-1)  # (N, M_low, F_low)
        p *= (self._low_scale / self._low_counts).astype(np.float32)
        return np.einsum("nmf,mt->nft", p, self._low_interp)  # (N, F_low, T)

    def dominant_bands(
        self, deviation_db: np.ndarray, *, reduce: Literal["mean", "max"] = "mean"
    ) -> np.ndarray:
        """The band where each window's excess over a reference is largest.

        Parameters
        ----------
        deviation_db : np.ndarray, shape (N, 1, F, T) or (N, F, T), float
            Features minus a reference (e.g. the typical windows' median), dB.
        reduce : {"mean", "max"}
            How the positive excess is pooled over the T frames of each band.

        Returns
        -------
        np.ndarray, shape (N, 2), float64
            (f_low_hz, f_high_hz) of the dominant band of each window.
        """
        d = np.asarray(deviation_db, dtype=np.float64)
        if d.ndim == 4:
            d = d[:, 0]  # (N, F, T)
        if d.ndim != 3 or d.shape[1:] != self.feature_shape[1:]:
            raise FrontEndInputError(
                f"deviation_db must have shape (N, 1, F, T) or (N, F, T) with (F, T) = "
                f"{self.feature_shape[1:]}, got {np.shape(deviation_db)}"
            )
        excess = np.clip(np.nan_to_num(d, nan=0.0), 0.0, None)
        pooled = excess.mean(axis=2) if reduce == "mean" else excess.max(axis=2)  # (N, F)
        k = pooled.argmax(axis=1)  # (N,)
        return np.stack([self._edges[k], self._edges[k + 1]], axis=1)

    def level_band_of(self, f_low_hz: float, f_high_hz: float) -> str:
        """Name of the narrowest named level band holding the band's geometric centre."""
        centre = float(np.sqrt(f_low_hz * f_high_hz))
        holding = [(b - a, name) for name, a, b in self.config.level_bands if a <= centre < b]
        if not holding:
            return "other"
        return min(holding)[1]


def band_label(f_low_hz: float, f_high_hz: float) -> str:
    """Human label of a band, e.g. ``"15.4-17.1 Hz"`` or ``"1.12-1.25 kHz"``."""
    if f_low_hz >= 1000.0:
        return f"{f_low_hz / 1000:.3g}-{f_high_hz / 1000:.3g} kHz"
    return f"{f_low_hz:.3g}-{f_high_hz:.3g} Hz"


def _bridge_gaps(x: np.ndarray, missing: np.ndarray) -> None:
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


def _missing(x: np.ndarray, valid: np.ndarray | None, *, floating: bool) -> np.ndarray | None:
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
