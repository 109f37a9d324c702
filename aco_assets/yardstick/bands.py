"""The band-energy z-score detector that PAM users run, as a per-step anomaly score.

Per step of ``step_s`` seconds (aligned to sample 0 of a file), the log energy in each base-10
third-octave band (IEC 61260-1:2014, nominal centres ``f_c = 1000 * 10**(k / 10)`` Hz, edges
``f_c * 10**(+-1/20)``) is compared with its median over reference steps (the typical-data
selection), in units of the robust spread ``1.4826 * MAD``; the step score is the largest of these
band z-scores. This is the long-standing baseline of passive acoustic monitoring (Raven Pro's
band-limited energy detector, PAMGuard's noise-band monitor, the NOAA/SoundCoop third-octave band
levels; Mellinger & Bradbury 2007), so every learned score is judged against it.

Band energies come from one FFT per step. The FFT is zero-padded so that the narrowest band spans
at least ``min_bins_per_band`` bins (at 1 s steps, 24 kHz, the 10 Hz band is 2.3 Hz wide: the
FFT becomes 41 472 points, 0.58 Hz bins), and each bin is the cell ``[f_k - df/2, f_k + df/2)``
of a piecewise-constant PSD that is integrated exactly over ``[f_low, f_high)`` (edge bins count
with their overlapping fraction). Band power is thus calibrated at any ``step_s``: for white noise
of variance ``s2`` the expected level is ``10 log10(s2 * bandwidth / (fs / 2))``. A band cannot
resolve a tone better than ``1 / step_s`` Hz; at steps shorter than ``1 / bandwidth`` a tone
spreads into the neighbouring bands (time-frequency uncertainty), but no energy is lost or
double-counted.

Dimension letters: S steps, B bands, R reference steps, K frequency bins, N samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import scipy.fft
import scipy.signal

from aco_assets.scoring.tables import EvaluationError

#: Scale factor making the MAD a consistent estimator of the standard deviation (normal data).
MAD_TO_SIGMA = 1.4826
#: Floor of band power, counts^2, so that digital silence gives -200 dB instead of -inf.
POWER_FLOOR = 1e-20
_NOMINAL_MANTISSAS = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


@dataclass(frozen=True)
class ThirdOctaveBands:
    """Base-10 third-octave bands, arrays (B,) float64 Hz.

    Attributes
    ----------
    index : int64, ``k`` in ``f_c = 1000 * 10**(k / 10)`` (0 is the 1 kHz band)
    center_hz : exact mid-band frequencies
    nominal_hz : IEC 61260-1 nominal centres (10, 12.5, 16, 20, 25, 31.5, ...), for names
    lower_hz, upper_hz : band edges ``center * 10**(-+1/20)``
    """

    index: np.ndarray
    center_hz: np.ndarray
    nominal_hz: np.ndarray
    lower_hz: np.ndarray
    upper_hz: np.ndarray

    @property
    def names(self) -> list[str]:
        """Band names from the nominal centres, e.g. ``"tob_16hz"``, ``"tob_3150hz"``."""
        return [f"tob_{f:g}hz" for f in self.nominal_hz]

    def band_of(self, frequency_hz: float) -> int:
        """Index of the band holding ``frequency_hz`` (in ``[lower, upper)``), -1 if none."""
        hit = np.flatnonzero((self.lower_hz <= frequency_hz) & (frequency_hz < self.upper_hz))
        return int(hit[0]) if hit.size else -1


def third_octave_bands(f_min_hz: float = 10.0, f_max_hz: float = 10000.0) -> ThirdOctaveBands:
    """The base-10 third-octave bands whose nominal centres lie in ``[f_min_hz, f_max_hz]``.

    Parameters
    ----------
    f_min_hz, f_max_hz : float, Hz; both rounded to the nearest band centre

    Returns
    -------
    ThirdOctaveBands, B = 31 for the default 10 Hz - 10 kHz
    """
    if not 0 < f_min_hz <= f_max_hz:
        raise EvaluationError(f"need 0 < f_min_hz <= f_max_hz, got {f_min_hz}, {f_max_hz}")
    k = np.arange(round(10 * np.log10(f_min_hz / 1000)), round(10 * np.log10(f_max_hz / 1000)) + 1)
    center = 1000.0 * 10.0 ** (k / 10.0)  # (B,)
    decade = 10.0 ** np.floor_divide(k + 30, 10).astype(np.float64)  # 1 Hz for k = -30
    nominal = np.asarray(_NOMINAL_MANTISSAS)[np.mod(k, 10)] * decade
    return ThirdOctaveBands(
        index=k.astype(np.int64),
        center_hz=center,
        nominal_hz=nominal,
        lower_hz=center * 10.0 ** (-1 / 20),
        upper_hz=center * 10.0 ** (1 / 20),
    )


def band_weights(lower_hz: np.ndarray, upper_hz: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Fraction of each FFT bin's cell ``[f - df/2, f + df/2)`` inside each band, sparse (K, B).

    Parameters
    ----------
    lower_hz, upper_hz : float (B,), Hz
    freqs_hz : float (K,), Hz, evenly spaced bin centres starting at 0

    Returns
    -------
    float64 (K, B) in [0, 1]; a PSD (S, K) times ``df`` times this matrix is the band power
    (S, B). Each row sums to at most 1: adjacent bands share an edge bin, none is counted twice.
    """
    df = freqs_hz[1] - freqs_hz[0]
    lo_cell, hi_cell = freqs_hz - df / 2, freqs_hz + df / 2  # (K,)
    overlap = np.minimum(hi_cell[:, None], upper_hz) - np.maximum(lo_cell[:, None], lower_hz)
    return np.clip(overlap / df, 0.0, 1.0)  # (K, B)


@dataclass(frozen=True)
class BandReference:
    """Robust per-band statistics of the reference steps, arrays (B,) float64 dB.

    Attributes
    ----------
    median_db : median band level
    scale_db : ``max(1.4826 * MAD, min_scale_db)``
    n_steps : reference steps with finite levels used
    """

    median_db: np.ndarray
    scale_db: np.ndarray
    n_steps: int


class BandScore(NamedTuple):
    """Scores of :meth:`BandEnergyDetector.score`, arrays (S,).

    Attributes
    ----------
    score : float64, the largest band z-score of each step (NaN where the levels are NaN)
    band : int64, index of that band into ``detector.bands`` (-1 where the score is NaN)
    """

    score: np.ndarray
    band: np.ndarray


@dataclass(frozen=True)
class BandEnergyDetector:
    """Third-octave band levels per step and their robust z-score against reference steps.

    A frozen config; :meth:`fit` returns a copy holding the :class:`BandReference`.

    Attributes
    ----------
    sample_rate_hz : int, Hz (ACO ``HYD24BBpk``: 24000)
    step_s : float, s; steps start at multiples of ``step_s`` from sample 0 (5 s matches the
        production windows); ``step_s * sample_rate_hz`` must be a whole number of samples
    f_min_hz, f_max_hz : float, Hz, nominal centres of the first and last band
    highpass_hz : float, Hz, corner of a 4th-order Butterworth high-pass run over the whole
        file before the steps are cut (removes the offset wander and swell below ~5 Hz, whose
        window leakage would otherwise reach the 10 Hz band); 0 disables it
    window : ``"hann"`` (default; low leakage) or ``"boxcar"`` (flat, every sample weighs alike)
    min_bins_per_band : int, zero-pad the FFT until the narrowest band spans this many bins
    min_scale_db : float, dB, floor of the robust spread (a band that never changes must not
        give infinite z-scores)
    chunk_steps : int, steps per FFT batch (bounds memory to ~``chunk_steps * nfft`` values)
    precision : ``"single"`` (default: float32 FFT, ~2x faster, error below 1e-5 dB on bands
        within ~120 dB of the step's loudest band) or ``"double"``
    reference : the fitted statistics, None before :meth:`fit`
    """

    sample_rate_hz: int = 24000
    step_s: float = 1.0
    f_min_hz: float = 10.0
    f_max_hz: float = 10000.0
    highpass_hz: float = 5.0
    window: Literal["hann", "boxcar"] = "hann"
    min_bins_per_band: int = 4
    min_scale_db: float = 0.5
    chunk_steps: int = 64
    precision: Literal["single", "double"] = "single"
    reference: BandReference | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.step_s * self.sample_rate_hz
        if self.step_s <= 0 or abs(n - round(n)) > 1e-6:
            raise EvaluationError(
                f"step_s={self.step_s} s is not a whole number of samples at "
                f"{self.sample_rate_hz} Hz; pick e.g. 1.0 or 5.0"
            )
        if self.bands.upper_hz[-1] >= self.sample_rate_hz / 2:
            raise EvaluationError(
                f"f_max_hz={self.f_max_hz}: its band reaches {self.bands.upper_hz[-1]:.0f} Hz, "
                f"above Nyquist ({self.sample_rate_hz / 2:g} Hz); lower f_max_hz"
            )
        if (
            self.window not in ("hann", "boxcar")
            or self.precision not in ("single", "double")
            or min(self.min_bins_per_band, self.chunk_steps) < 1
        ):
            raise EvaluationError(
                f"window must be 'hann' or 'boxcar' (got {self.window!r}), precision 'single' "
                f"or 'double' (got {self.precision!r}), min_bins_per_band and chunk_steps >= 1"
            )

    @property
    def bands(self) -> ThirdOctaveBands:
        """The third-octave bands, B of them."""
        return third_octave_bands(self.f_min_hz, self.f_max_hz)

    @property
    def step_samples(self) -> int:
        """Samples per step."""
        return round(self.step_s * self.sample_rate_hz)

    @property
    def nfft(self) -> int:
        """FFT length: the step, zero-padded to ``min_bins_per_band`` bins in the narrowest band."""
        bands = self.bands
        narrowest_hz = float(np.min(bands.upper_hz - bands.lower_hz))
        need = int(np.ceil(self.min_bins_per_band * self.sample_rate_hz / narrowest_hz))
        return scipy.fft.next_fast_len(max(self.step_samples, need), real=True)

    def levels(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Band levels of every whole step of one file's samples.

        Parameters
        ----------
        samples : float32 or float64 (N,), counts, one file (or one gap-free stretch); NaN marks
            missing samples. A trailing partial step is dropped.

        Returns
        -------
        starts_offset_s : float64 (S,), s, step starts from sample 0 (``i * step_s``)
        levels_db : float64 (S, B), dB re 1 count^2, mean-square band power over the step
            (window-weighted for Hann); rows of steps holding any NaN sample are NaN
        """
        x = np.asarray(samples)
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.number):
            raise EvaluationError(f"samples must be a 1-D numeric array, got {x.dtype} {x.shape}")
        n, n_steps = self.step_samples, x.size // self.step_samples
        x = x[: n_steps * n].astype(np.float64)  # (S * n,)
        missing = ~np.isfinite(x)
        step_missing = missing.reshape(n_steps, n).any(axis=1)  # (S,)
        if missing.any():
            x = _interpolate_gaps(x, missing)
        if self.highpass_hz > 0 and x.size:
            x = _highpass(x, self.highpass_hz, self.sample_rate_hz)
        power = self._band_power(x.reshape(n_steps, n))  # (S, B)
        levels_db = 10.0 * np.log10(np.maximum(power, POWER_FLOOR))
        levels_db[step_missing] = np.nan
        return np.arange(n_steps) * float(self.step_s), levels_db

    def _band_power(self, frames: np.ndarray) -> np.ndarray:
        """Mean-square band power (S, B), counts^2, of frames (S, n)."""
        n, nfft, fs = frames.shape[1], self.nfft, self.sample_rate_hz
        dtype = np.float32 if self.precision == "single" else np.float64
        w = np.hanning(n + 1)[:n] if self.window == "hann" else np.ones(n)  # periodic Hann
        w_typed = w.astype(dtype)
        freqs = np.arange(nfft // 2 + 1) * fs / nfft  # (K,)
        k_max = int(np.searchsorted(freqs, self.bands.upper_hz[-1] + fs / nfft)) + 1
        weights = band_weights(self.bands.lower_hz, self.bands.upper_hz, freqs[:k_max])
        weights = weights.astype(dtype)  # (K, B): one BLAS product per chunk
        # One-sided PSD times df: 2 |X_k|^2 / (nfft * sum w^2); no band touches DC or Nyquist.
        scale = 2.0 / (nfft * np.sum(w**2))
        out = np.empty((frames.shape[0], weights.shape[1]))
        for i in range(0, frames.shape[0], self.chunk_steps):
            chunk = frames[i : i + self.chunk_steps].astype(dtype) * w_typed  # (s, n)
            spec = scipy.fft.rfft(chunk, n=nfft, axis=1)[:, :k_max]  # (s, K)
            p = spec.real**2 + spec.imag**2  # (s, K)
            out[i : i + self.chunk_steps] = (p @ weights) * scale  # (s, B)
        return out

    def fit(self, reference_levels: np.ndarray) -> BandEnergyDetector:
        """A copy of this detector holding the robust band statistics of the reference steps.

        Parameters
        ----------
        reference_levels : float (R, B), dB, band levels of reference steps (in the pipeline,
            the typical-data selection); rows with a NaN are ignored

        Returns
        -------
        BandEnergyDetector with ``reference`` set: per band the median and
        ``max(1.4826 * median(|level - median|), min_scale_db)``
        """
        ref = np.asarray(reference_levels, dtype=np.float64)
        n_bands = len(self.bands.center_hz)
        if ref.ndim != 2 or ref.shape[1] != n_bands:
            raise EvaluationError(f"reference_levels must be (R, {n_bands}), got {ref.shape}")
        ref = ref[np.isfinite(ref).all(axis=1)]  # (R', B)
        if ref.shape[0] < 2:
            raise EvaluationError(
                f"reference_levels hold {ref.shape[0]} finite step(s); give at least 2"
            )
        median = np.median(ref, axis=0)  # (B,)
        mad = np.median(np.abs(ref - median), axis=0)  # (B,)
        scale = np.maximum(MAD_TO_SIGMA * mad, self.min_scale_db)
        return dataclasses.replace(self, reference=BandReference(median, scale, ref.shape[0]))

    def zscores(self, levels_db: np.ndarray) -> np.ndarray:
        """Robust band z-scores ``(level - median) / scale``, float64 (S, B), NaN kept."""
        if self.reference is None:
            raise EvaluationError("the detector is not fitted: call fit(reference_levels) first")
        lv = np.asarray(levels_db, dtype=np.float64)
        if lv.ndim != 2 or lv.shape[1] != self.reference.median_db.size:
            raise EvaluationError(
                f"levels must be (S, {self.reference.median_db.size}), got {lv.shape}"
            )
        return (lv - self.reference.median_db) / self.reference.scale_db  # (S, B)

    def score(self, levels_db: np.ndarray) -> BandScore:
        """Largest band z-score of each step and its band.

        Parameters
        ----------
        levels_db : float (S, B), dB, from :meth:`levels`

        Returns
        -------
        BandScore ``(score (S,) float64, band (S,) int64)``; a row with any NaN level gives a NaN
        score and band -1 (missing data is not an anomaly score)
        """
        z = self.zscores(levels_db)  # (S, B)
        valid = np.isfinite(z).all(axis=1)  # (S,)
        band = np.where(valid, np.argmax(np.where(valid[:, None], z, 0.0), axis=1), -1)
        score = np.where(valid, np.max(np.where(valid[:, None], z, 0.0), axis=1), np.nan)
        return BandScore(score=score, band=band.astype(np.int64))


def _interpolate_gaps(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Missing samples linearly bridged (so the high-pass rings neither on NaN nor on a step)."""
    good = np.flatnonzero(~missing)
    if good.size == 0:
        return np.zeros_like(x)
    out = x.copy()
    out[missing] = np.interp(np.flatnonzero(missing), good, x[good])
    return out


def _highpass(x: np.ndarray, corner_hz: float, sample_rate_hz: int) -> np.ndarray:
    """4th-order Butterworth high-pass, started in steady state on the first sample."""
    sos = scipy.signal.butter(4, corner_hz, btype="highpass", fs=sample_rate_hz, output="sos")
    zi = scipy.signal.sosfilt_zi(sos) * x[0]  # (sections, 2): no start-up step on the offset
    y, _ = scipy.signal.sosfilt(sos, x, zi=zi)
    return y
