"""A span of hydrophone samples that carries its own time: slicing, filters, resampling,
spectrogram, WAV and plots. All datetimes are naive UTC.

Missing samples are NaN. Filters and resampling bridge gaps by linear interpolation, process the
whole signal, and put the NaN back where samples were missing, so gaps are never filled with
invented data and never dropped. A filtered clip remembers its passband, and its spectrogram
plot scales colours to it (the stopband, tens of dB down, would swamp the colour scale).

Times may be given as naive-UTC ``datetime``, aware ``datetime`` (converted to UTC),
``numpy.datetime64`` or ISO 8601 strings (``"2016-02-14T05:00"``, ``"...Z"``): see
:func:`as_utc`.

Dimension letters: F frequency bins, T frames.

Why this module is long: it is one value object, :class:`Clip`, and the :class:`Spectrogram` its
method returns; every method keeps the same two promises (the clip carries its own time, missing
samples stay NaN), so they read best side by side. Review pictures and WAVs are rendered through
it (:mod:`aco_assets.review.render`), not by a second implementation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from scipy import signal

from .gaps import run_spans
from .timing import datetime_to_ns

_US = timedelta(microseconds=1)


class NoDataWarning(UserWarning):
    """A span was loaded where the archive holds no sample at all (the clip is all NaN)."""


def as_utc(value: Any, *, name: str = "time") -> datetime:
    """``value`` as a naive UTC datetime.

    Parameters
    ----------
    value : datetime (naive = UTC; aware is converted), ISO 8601 str (``"2016-02-14 05:00"``,
        ``"2016-02-14T05:00:00Z"``, ``"...+10:00"``), ``numpy.datetime64`` or anything with
        ``to_pydatetime()`` (a pandas Timestamp)
    name : what the value is, for the error message

    Raises
    ------
    TypeError
        for another type, ValueError for a string that is not an ISO 8601 time (both name it)
    """
    if hasattr(value, "to_pydatetime") and not isinstance(value, datetime):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[us]").astype(datetime)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError as e:
            raise ValueError(
                f"{name} {value!r} is not an ISO 8601 time; write e.g. '2016-02-14T05:00:00' (UTC)"
            ) from e
        return as_utc(parsed)
    raise TypeError(
        f"{name} must be a datetime, an ISO 8601 string or numpy.datetime64, "
        f"got {type(value).__name__} {value!r}"
    )


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
    passband_hz : (float, float) or None
        The band the clip was filtered to (None: unfiltered); :meth:`plot` scales colours to it.
    """

    power_db: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    start_utc: datetime
    nfft: int
    hop: int
    passband_hz: tuple[float, float] | None = None

    @property
    def times_utc(self) -> np.ndarray:
        """Frame centres, shape (T,), datetime64[ns] (naive UTC)."""
        t0 = np.datetime64(datetime_to_ns(self.start_utc), "ns")
        return t0 + np.rint(self.times_s * 1e9).astype("timedelta64[ns]")

    def color_limits(
        self, *, percentiles: tuple[float, float] = (1.0, 99.9)
    ) -> tuple[float, float]:
        """Colour range (dB) of :meth:`plot`: percentiles of the finite power in the passband.

        Frames in gaps (NaN) never count, and neither does the stopband of a filtered clip.
        """
        rows = np.ones(self.freqs_hz.size, bool)
        if self.passband_hz is not None:
            lo, hi = self.passband_hz
            rows = (self.freqs_hz >= lo) & (self.freqs_hz <= hi)
            if not rows.any():
                rows[:] = True
        p = self.power_db[rows]
        p = p[np.isfinite(p)]
        if not p.size:
            return 0.0, 1.0
        vmin, vmax = np.percentile(p, percentiles)
        return float(vmin), float(max(vmax, vmin + 1e-6))

    def plot(
        self,
        ax: Any = None,
        *,
        freq_scale: Literal["linear", "log"] = "linear",
        **kwargs: Any,
    ) -> Any:
        """Draw with ``pcolormesh`` (seconds from start vs Hz) on ``ax`` (new figure if None).

        Colours span :meth:`color_limits` (the passband of a filtered clip) unless ``vmin`` /
        ``vmax`` are given; gaps stay blank. ``freq_scale="log"`` draws a log frequency axis
        (from the first bin above 0 Hz, or the passband's low edge). Other ``kwargs`` go to
        ``pcolormesh`` (e.g. ``cmap``).
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(10, 4))
        if "vmin" not in kwargs and "vmax" not in kwargs:
            kwargs["vmin"], kwargs["vmax"] = self.color_limits()
        mesh = ax.pcolormesh(
            self.times_s, self.freqs_hz, self.power_db, shading="nearest", **kwargs
        )
        if freq_scale == "log":
            lo = self.freqs_hz[self.freqs_hz > 0]
            bottom = lo[0] if lo.size else 1.0
            if self.passband_hz is not None and self.passband_hz[0] > 0:
                bottom = max(bottom, self.passband_hz[0] / 2)
            ax.set_yscale("log")
            ax.set_ylim(bottom, self.freqs_hz[-1])
        elif freq_scale != "linear":
            raise ValueError(f"freq_scale must be 'linear' or 'log', got {freq_scale!r}")
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
    start_utc : datetime or str
        Time of sample 0, naive UTC (or anything :func:`as_utc` takes).
    sample_rate_hz : float
    passband_hz : (float, float) or None
        The band the samples were filtered to, if any (set by the filters).
    """

    def __init__(
        self,
        samples: np.ndarray,
        *,
        start_utc: datetime | str,
        sample_rate_hz: float,
        passband_hz: tuple[float, float] | None = None,
    ) -> None:
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        if not sample_rate_hz > 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        self.samples, self.sample_rate_hz = x, sample_rate_hz
        self.start_utc = as_utc(start_utc, name="start_utc")
        self.passband_hz = passband_hz

    def __repr__(self) -> str:
        return (
            f"Clip({self.start_utc.isoformat()} + {self.duration_s:.3f} s at "
            f"{self.sample_rate_hz:g} Hz, {len(self.gaps)} gap(s))"
        )

    def __len__(self) -> int:
        return self.samples.size

    def _with(
        self,
        samples: np.ndarray,
        start_utc: datetime | None = None,
        rate: float | None = None,
        passband_hz: tuple[float, float] | None = None,
    ):
        return Clip(
            samples,
            start_utc=self.start_utc if start_utc is None else start_utc,
            sample_rate_hz=self.sample_rate_hz if rate is None else rate,
            passband_hz=self.passband_hz if passband_hz is None else passband_hz,
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
        return [(self.time_at(a), self.time_at(b)) for a, b in run_spans(np.isnan(self.samples))]

    def time_at(self, index: int) -> datetime:
        """Time of sample ``index`` (naive UTC, to the microsecond)."""
        return self.start_utc + timedelta(seconds=index / self.sample_rate_hz)

    def index_at(self, t: datetime | timedelta | str) -> int:
        """Index of the sample nearest to ``t`` (absolute, or an offset from ``start_utc``)."""
        offset = t if isinstance(t, timedelta) else as_utc(t) - self.start_utc
        return round(offset / _US * self.sample_rate_hz / 1e6)

    def __getitem__(self, key: slice) -> Clip:
        """Slice by time offset (``clip[timedelta(s=1):timedelta(s=2)]``), datetime, ISO string or index.

        The result's ``start_utc`` is the time of its first sample.
        """
        if not isinstance(key, slice) or key.step is not None:
            raise TypeError(f"a Clip is sliced by a slice without step, got {key!r}")

        def bound(b: Any) -> int | None:
            if b is None or isinstance(b, int | np.integer):
                return b
            if isinstance(b, datetime | timedelta | str | np.datetime64):  # before start: start
                return max(0, self.index_at(b))
            raise TypeError(
                f"slice bounds must be timedelta, datetime, ISO string or int, got {b!r}"
            )

        lo, hi, _ = slice(bound(key.start), bound(key.stop)).indices(self.samples.size)
        return self._with(self.samples[lo : max(lo, hi)].copy(), start_utc=self.time_at(lo))

    # filters and resampling -----------------------------------------------------------------
    def _sosfiltfilt(self, sos: np.ndarray, passband_hz: tuple[float, float]) -> Clip:
        filled, missing = _bridge(self.samples)
        if filled.size < 2:
            return self._with(self.samples.copy(), passband_hz=passband_hz)
        n_zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
        padlen = min(3 * (2 * len(sos) + 1 - n_zeros), filled.size - 1)
        y = signal.sosfiltfilt(sos, filled, padlen=padlen)
        y[missing] = np.nan
        return self._with(y, passband_hz=passband_hz)

    def _butter(self, cutoff: float | list[float], btype: str, order: int) -> Clip:
        sos = signal.butter(order, cutoff, btype=btype, fs=self.sample_rate_hz, output="sos")
        lo, hi = self.passband_hz or (0.0, self.sample_rate_hz / 2)
        edges = np.atleast_1d(cutoff).astype(float)
        if btype == "highpass":
            lo = max(lo, edges[0])
        elif btype == "lowpass":
            hi = min(hi, edges[0])
        else:
            lo, hi = max(lo, edges[0]), min(hi, edges[1])
        return self._sosfiltfilt(sos, (float(lo), float(hi)))

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
        for a, b in run_spans(missing):
            lo = max(0, int(np.floor((a - 1) * new_rate / self.sample_rate_hz)))
            hi = int(np.ceil((b + 1) * new_rate / self.sample_rate_hz))
            y[lo:hi] = np.nan
        band = self.passband_hz and (self.passband_hz[0], min(self.passband_hz[1], new_rate / 2))
        return self._with(y, rate=new_rate, passband_hz=band or None)

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
        return Spectrogram(power_db, f, t, self.start_utc, nfft, hop, self.passband_hz)

    def to_wav(
        self,
        path: str | os.PathLike,
        *,
        normalise: bool = True,
        subtype: str = "PCM_16",
        peak: float = 0.99,
    ) -> float:
        """Write a WAV file to listen to (``soundfile``); NaN become silence.

        The mean is removed and, if ``normalise``, the peak scaled to ``peak`` full scale.

        Returns
        -------
        float
            The scale applied: WAV value = (sample - mean) * scale.
        """
        import soundfile

        valid = self.valid
        mean = float(np.mean(self.samples[valid])) if valid.any() else 0.0
        x = np.nan_to_num(self.samples - mean)
        top = float(np.max(np.abs(x))) if x.size else 0.0
        scale = peak / top if normalise and top > 0 else 1.0
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
