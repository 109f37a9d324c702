"""A span of hydrophone samples that carries its own time: slicing, filters, resampling,
spectrogram, WAV and plots. All datetimes are naive UTC.

Missing samples are NaN. Filters and resampling bridge gaps by linear interpolation, process the
whole signal, and put the NaN back where samples were missing, so gaps are never filled with
invented data and never dropped.

Dimension letters: F frequency bins, T frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from scipy import signal

from .timing import datetime_to_ns

_US = timedelta(microseconds=1)


def _nan_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [a, b) where ``mask`` is True."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _bridge(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``x`` with NaN replaced by linear interpolation, and the NaN mask."""
    missing = np.isnan(x)
    if not missing.any() or missing.all():
        return np.nan_to_num(x), missing
    idx = np.arange(x.size)
    filled = x.copy()
    filled[missing] = np.interp(idx[missing], idx[~missing], x[~missing])
    return filled, missing


@dataclass(frozen=True)
class Spectrogram:
    """Power spectral density frames of a clip.

    Attributes
    ----------
    power_db : np.ndarray, shape (F, T), float64
        PSD in dB re 1 count^2/Hz (NaN for frames that touch missing samples).
    freqs_hz : np.ndarray, shape (F,), float64
        Bin frequencies, ``k * sample_rate_hz / nfft``.
    times_s : np.ndarray, shape (T,), float64
        Frame centres in seconds from ``start_utc``.
    start_utc : datetime
        Start of the clip (naive UTC).
    nfft, hop : int
        FFT length and frame step, samples.
    """

    power_db: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    start_utc: datetime
    nfft: int
    hop: int

    @property
    def times_utc(self) -> np.ndarray:
        """Frame centres, shape (T,), datetime64[ns] (naive UTC)."""
        t0 = np.datetime64(datetime_to_ns(self.start_utc), "ns")
        return t0 + np.rint(self.times_s * 1e9).astype("timedelta64[ns]")

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw with ``pcolormesh`` (seconds from start vs Hz) on ``ax`` (new figure if None)."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(10, 4))
        mesh = ax.pcolormesh(
            self.times_s, self.freqs_hz, self.power_db, shading="nearest", **kwargs
        )
        ax.set_xlabel(f"seconds from {self.start_utc:%Y-%m-%d %H:%M:%S} UTC")
        ax.set_ylabel("frequency (Hz)")
        ax.figure.colorbar(mesh, ax=ax, label="PSD (dB re 1 count²/Hz)")
        return ax


class Clip:
    """Samples with a start time and a sample rate.

    Parameters
    ----------
    samples : array-like, shape (n,)
        Values (stored as float64); NaN marks missing samples.
    start_utc : datetime
        Time of sample 0, naive UTC.
    sample_rate_hz : float
    """

    def __init__(self, samples: np.ndarray, *, start_utc: datetime, sample_rate_hz: float) -> None:
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        if start_utc.tzinfo is not None:
            raise ValueError(f"start_utc must be naive UTC, got {start_utc!r}")
        if not sample_rate_hz > 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        self.samples, self.start_utc, self.sample_rate_hz = x, start_utc, sample_rate_hz

    def __repr__(self) -> str:
        return (
            f"Clip({self.start_utc.isoformat()} + {self.duration_s:.3f} s at "
            f"{self.sample_rate_hz:g} Hz, {len(self.gaps)} gap(s))"
        )

    def __len__(self) -> int:
        return self.samples.size

    def _with(
        self, samples: np.ndarray, start_utc: datetime | None = None, rate: float | None = None
    ):
        return Clip(
            samples,
            start_utc=self.start_utc if start_utc is None else start_utc,
            sample_rate_hz=self.sample_rate_hz if rate is None else rate,
        )

    # time axes ------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate_hz

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.duration_s)

    @property
    def end_utc(self) -> datetime:
        """Time just after the last sample."""
        return self.start_utc + self.duration

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds from ``start_utc``, shape (n,), float64."""
        return np.arange(self.samples.size) / self.sample_rate_hz

    @property
    def times_utc(self) -> np.ndarray:
        """Sample times, shape (n,), datetime64[ns] (naive UTC)."""
        t0 = np.datetime64(datetime_to_ns(self.start_utc), "ns")
        return t0 + np.rint(self.times * 1e9).astype("timedelta64[ns]")

    @property
    def valid(self) -> np.ndarray:
        """False where a sample is missing, shape (n,), bool."""
        return ~np.isnan(self.samples)

    @property
    def gaps(self) -> list[tuple[datetime, datetime]]:
        """Spans of missing samples, ``(start_utc, end_utc)``: first missing sample, first after."""
        return [(self.time_at(a), self.time_at(b)) for a, b in _nan_runs(np.isnan(self.samples))]

    def time_at(self, index: int) -> datetime:
        """Time of sample ``index`` (naive UTC, to the microsecond)."""
        return self.start_utc + timedelta(seconds=index / self.sample_rate_hz)

    def index_at(self, t: datetime | timedelta) -> int:
        """Index of the sample nearest to ``t`` (absolute, or an offset from ``start_utc``)."""
        offset = t - self.start_utc if isinstance(t, datetime) else t
        return round(offset / _US * self.sample_rate_hz / 1e6)

    def __getitem__(self, key: slice) -> Clip:
        """Slice by time offset (``clip[timedelta(s=1):timedelta(s=2)]``), datetime or index.

        The result's ``start_utc`` is the time of its first sample.
        """
        if not isinstance(key, slice) or key.step is not None:
            raise TypeError(f"a Clip is sliced by a slice without step, got {key!r}")

        def bound(b: Any) -> int | None:
            if b is None or isinstance(b, int | np.integer):
                return b
            if isinstance(b, datetime | timedelta):  # times before the start clamp to it
                return max(0, self.index_at(b))
            raise TypeError(f"slice bounds must be timedelta, datetime or int, got {b!r}")

        lo, hi, _ = slice(bound(key.start), bound(key.stop)).indices(self.samples.size)
        return self._with(self.samples[lo : max(lo, hi)].copy(), start_utc=self.time_at(lo))

    # filters and resampling -----------------------------------------------------------------
    def _sosfiltfilt(self, sos: np.ndarray) -> Clip:
        filled, missing = _bridge(self.samples)
        if filled.size < 2:
            return self._with(self.samples.copy())
        n_zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
        padlen = min(3 * (2 * len(sos) + 1 - n_zeros), filled.size - 1)
        y = signal.sosfiltfilt(sos, filled, padlen=padlen)
        y[missing] = np.nan
        return self._with(y)

    def _butter(self, cutoff: float | list[float], btype: str, order: int) -> Clip:
        sos = signal.butter(order, cutoff, btype=btype, fs=self.sample_rate_hz, output="sos")
        return self._sosfiltfilt(sos)

    def highpass(self, cutoff_hz: float, *, order: int = 6) -> Clip:
        """Zero-phase Butterworth high-pass (``scipy.signal.sosfiltfilt``); NaN kept in place."""
        return self._butter(cutoff_hz, "highpass", order)

    def lowpass(self, cutoff_hz: float, *, order: int = 6) -> Clip:
        """Zero-phase Butterworth low-pass (``scipy.signal.sosfiltfilt``); NaN kept in place."""
        return self._butter(cutoff_hz, "lowpass", order)

    def bandpass(self, low_hz: float, high_hz: float, *, order: int = 6) -> Clip:
        """Zero-phase Butterworth band-pass (``scipy.signal.sosfiltfilt``); NaN kept in place.

        ACOio's cleaning default was ``bandpass(30, 3000, order=6)``.
        """
        return self._butter([low_hz, high_hz], "bandpass", order)

    def resample(self, rate_hz: float) -> Clip:
        """Resample with ``scipy.signal.resample_poly`` to ``rate_hz``.

        Missing samples map to NaN at the new rate (every new sample within one old sample period
        of a missing one).
        """
        ratio = Fraction(rate_hz / self.sample_rate_hz).limit_denominator(10_000)
        if ratio <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        filled, missing = _bridge(self.samples)
        y = signal.resample_poly(filled, ratio.numerator, ratio.denominator)
        new_rate = self.sample_rate_hz * ratio.numerator / ratio.denominator
        for a, b in _nan_runs(missing):
            lo = max(0, int(np.floor((a - 1) * new_rate / self.sample_rate_hz)))
            hi = int(np.ceil((b + 1) * new_rate / self.sample_rate_hz))
            y[lo:hi] = np.nan
        return self._with(y, rate=new_rate)

    # spectrogram, audio, plot ---------------------------------------------------------------
    def spectrogram(
        self,
        *,
        nfft: int = 4096,
        hop: int | None = None,
        window: str = "hann",
        detrend: Literal["constant", "linear"] | None = "constant",
    ) -> Spectrogram:
        """Power spectral density frames (``scipy.signal.spectrogram``, one-sided, density).

        Parameters
        ----------
        nfft : int
            Frame and FFT length, samples (frequency resolution ``sample_rate_hz / nfft``).
        hop : int or None
            Frame step, samples (default ``nfft // 2``).
        window : str
            Window name for ``scipy.signal.get_window``.
        detrend : {"constant", "linear"} or None
            Per-frame detrending (removes the raw offset).
        """
        hop = nfft // 2 if hop is None else hop
        if not 0 < hop <= nfft:
            raise ValueError(f"hop must be in 1..nfft={nfft}, got {hop}")
        if self.samples.size < nfft:
            raise ValueError(f"clip of {self.samples.size} samples is shorter than nfft={nfft}")
        f, t, sxx = signal.spectrogram(
            self.samples,
            fs=self.sample_rate_hz,
            window=window,
            nperseg=nfft,
            noverlap=nfft - hop,
            nfft=nfft,
            detrend=detrend or False,
            scaling="density",
            mode="psd",
        )  # sxx: (F, T)
        power_db = 10.0 * np.log10(np.maximum(sxx, np.finfo(np.float64).tiny))
        return Spectrogram(power_db, f, t, self.start_utc, nfft, hop)

    def to_wav(
        self, path: str | os.PathLike, *, normalise: bool = True, subtype: str = "PCM_16"
    ) -> float:
        """Write a WAV file to listen to (``soundfile``); NaN become silence.

        The mean is removed and, if ``normalise``, the peak scaled to 0.99 full scale.

        Returns
        -------
        float
            The scale applied: WAV value = (sample - mean) * scale.
        """
        import soundfile

        x = (
            np.nan_to_num(self.samples - np.nanmean(self.samples))
            if self.samples.size
            else self.samples
        )
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        scale = 0.99 / peak if normalise and peak > 0 else 1.0
        soundfile.write(os.fspath(path), x * scale, round(self.sample_rate_hz), subtype=subtype)
        return scale

    @classmethod
    def from_wav(cls, path: str | os.PathLike, *, start_utc: datetime) -> Clip:
        """Read a WAV (or any ``soundfile`` format) as a clip; channels are averaged."""
        import soundfile

        x, rate = soundfile.read(os.fspath(path), dtype="float64", always_2d=True)
        return cls(x.mean(axis=1), start_utc=start_utc, sample_rate_hz=float(rate))

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the waveform against seconds from start on ``ax`` (new figure if None)."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(10, 3))
        ax.plot(self.times, self.samples, lw=0.5, **kwargs)
        ax.set_xlabel(f"seconds from {self.start_utc:%Y-%m-%d %H:%M:%S.%f} UTC")
        ax.set_ylabel("counts")
        return ax
