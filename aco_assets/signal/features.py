"""The spectrogram front end shared by training and scoring.

One ACO file's samples become non-overlapping analysis windows of ``window_s`` seconds, each a
log-frequency spectrogram of ``F`` log-spaced bands by ``T`` frames, in dB re 1 count^2/Hz.

Two paths feed the bands (docs/model.md, "The front end"):

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

The settings, errors and result type live in :mod:`aco_assets.signal.front_end_config`, the
handling of missing samples in :mod:`aco_assets.signal.sample_gaps`; they are importable from
here too.

Dimension letters: N windows, F bands, T frames, M STFT frames per window, K frequency bins,
L named level bands.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from aco_assets.signal.front_end_config import (
    DEFAULT_LEVEL_BANDS,
    NORMALISE_MODES,
    FrontEndConfig,
    FrontEndConfigError,
    FrontEndError,
    FrontEndInputError,
    WindowFeatures,
    check_config,
)
from aco_assets.signal.polyphase import LineDecimator
from aco_assets.signal.sample_gaps import bridge_gaps, missing_mask

__all__ = [
    "DEFAULT_LEVEL_BANDS",
    "LEVEL_COLUMNS",
    "NORMALISE_MODES",
    "FrontEnd",
    "FrontEndConfig",
    "FrontEndConfigError",
    "FrontEndError",
    "FrontEndInputError",
    "WindowFeatures",
    "band_label",
]

log = logging.getLogger(__name__)

#: Level columns of the ``windows`` table <- names of the front end's level bands.
LEVEL_COLUMNS = {
    "level_broadband_db": "broadband_10_10000",
    "level_low_db": "low_10_100",
    "level_mid_db": "mid_100_1000",
    "level_high_db": "high_1000_10000",
}


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
        check_config(cfg)
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
        missing = missing_mask(x32, ok, floating=np.issubdtype(x.dtype, np.floating))
        if missing is None:
            missing_share = np.zeros(n)
        else:
            missing_share = np.bincount(np.flatnonzero(missing) // w, minlength=n) / w  # (N,)
            bridge_gaps(x32, missing)
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
            # (F,); a stretch shorter than one window has no windows and nothing to subtract
            median = np.median(ref[:, 0], axis=(0, 2)) if n else np.zeros(self.config.n_bands)
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
