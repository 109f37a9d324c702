"""Render one synthetic file: background, then each planned event scaled to its band SNR.

SNR definition (the catalog's ``snr_db``): over the event's support, the mean power of the added
signal inside [f_low_hz, f_high_hz] over the mean power of the background alone in that band,
both measured by FFT (Parseval), in dB. For a dropout the "added signal" is minus the background
it removes, so its SNR is 0 dB by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import scipy.fft

from aco_assets.synth import events as sources
from aco_assets.synth.schedule import PlannedEvent, conditions, plan_events
from aco_assets.synth.soundscape import SAMPLE_RATE_HZ, background

_INT_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class PlacedEvent:
    """An event as written into a file (sample positions relative to the file's first sample).

    ``source`` names the recording the sound was cut from (empty: the class's synthetic
    generator); events sharing a ``group`` >= 0 in one file form one bout or train.
    """

    label: str
    start_sample: int
    n_samples: int
    f_low_hz: float
    f_high_hz: float
    snr_db: float
    source: str = ""
    group: int = -1


@dataclass(frozen=True)
class FileContent:
    """One archive file's content, as the archive writer needs it.

    Attributes
    ----------
    start_utc : datetime
        True time of sample 0, naive UTC (the catalog's clock).
    samples : ndarray, shape (n,), int32
        Raw counts.
    placed : list of PlacedEvent
        Events and glitches in it.
    rng : numpy.random.Generator
        The file's random stream after rendering (the fault injection continues it).
    header_offset_s : float
        Clock offset written into the headers (header time = true time + offset), s; 0 = none.
    """

    start_utc: dt.datetime
    samples: np.ndarray
    placed: list[PlacedEvent]
    rng: np.random.Generator
    header_offset_s: float = 0.0


def band_power(
    x: np.ndarray, f_low_hz: float, f_high_hz: float, *, sample_rate_hz: float = SAMPLE_RATE_HZ
) -> float:
    """Mean power of ``x`` inside [f_low_hz, f_high_hz], by FFT and Parseval's theorem.

    Parameters
    ----------
    x : ndarray, shape (n,), float
        Signal, counts (the mean is kept: a band starting at 0 Hz includes dc).
    f_low_hz, f_high_hz : float
        Band edges, Hz.
    sample_rate_hz : float
        Sample rate, Hz.

    Returns
    -------
    float
        Mean power in counts^2 (the band's share of ``mean(x**2)``).
    """
    n = x.size
    n_fft = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(x, n_fft, workers=1)  # (F,)
    freqs = scipy.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)
    power = np.abs(spectrum) ** 2
    power[1 : (n_fft + 1) // 2] *= 2.0  # one-sided: all bins but dc (and Nyquist) count twice
    band = (freqs >= f_low_hz) & (freqs <= f_high_hz)
    return float(power[band].sum() / (n_fft * n))


def _place(
    x: np.ndarray,
    bg: np.ndarray,
    plan: PlannedEvent,
    rng: np.random.Generator,
    sample_rate_hz: float,
) -> PlacedEvent:
    """Synthesise ``plan``, scale it to its SNR against ``bg`` and add it into ``x`` in place."""
    sound = sources.SOURCES[plan.label](
        rng, duration_s=plan.duration_s, sample_rate_hz=sample_rate_hz
    )
    start = int(round(plan.offset_s * sample_rate_hz))
    n = min(sound.samples.size, x.size - start)
    seg = slice(start, start + n)
    p_bg = band_power(bg[seg], sound.f_low_hz, sound.f_high_hz, sample_rate_hz=sample_rate_hz)
    if sound.dropout_mask is not None:
        mask = sound.dropout_mask[:n]
        removed = np.where(mask, -x[seg], 0.0)
        x[seg] = np.where(mask, 0.0, x[seg]) + sound.samples[:n]
        p_ev = band_power(removed, sound.f_low_hz, sound.f_high_hz, sample_rate_hz=sample_rate_hz)
        snr_db = 10.0 * np.log10(max(p_ev, 1e-30) / max(p_bg, 1e-30))
    else:
        p_unit = band_power(
            sound.samples[:n], sound.f_low_hz, sound.f_high_hz, sample_rate_hz=sample_rate_hz
        )
        scale = np.sqrt(10.0 ** (plan.snr_db / 10.0) * p_bg / max(p_unit, 1e-30))
        x[seg] += scale * sound.samples[:n]
        snr_db = plan.snr_db
    return PlacedEvent(plan.label, start, n, sound.f_low_hz, sound.f_high_hz, float(snr_db))


def render_file(
    start_utc: dt.datetime,
    n_samples: int,
    rng: np.random.Generator,
    *,
    rate_scale: float = 1.0,
    plan: list[PlannedEvent] | None = None,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> tuple[np.ndarray, list[PlacedEvent]]:
    """Synthesise one file's samples and the events placed in it.

    Parameters
    ----------
    start_utc : datetime
        Time of the first sample (naive UTC); sets season, hour and background conditions.
    n_samples : int
        Length in samples.
    rng : numpy.random.Generator
        The file's randomness: the same state gives the same samples and events.
    rate_scale : float
        Multiplies every event rate (see :func:`aco_assets.synth.schedule.plan_events`).
    plan : list of PlannedEvent, optional
        Events to place instead of drawing them from the seasonal rules.
    sample_rate_hz : float
        Sample rate, Hz.

    Returns
    -------
    samples : ndarray, shape (n_samples,), int32
        Raw counts.
    placed : list of PlacedEvent
        The events, in the order they were added (glitches last).
    """
    params = conditions(start_utc, rng)
    bg = background(n_samples, rng, params=params, sample_rate_hz=sample_rate_hz)  # (n,)
    if plan is None:
        plan = plan_events(start_utc, n_samples / sample_rate_hz, rng, rate_scale=rate_scale)
    plan = sorted(plan, key=lambda e: (e.label.startswith("glitch"), e.offset_s))
    x = bg.copy()
    placed = [_place(x, bg, p, rng, sample_rate_hz) for p in plan]
    samples = np.clip(np.rint(x), -_INT_LIMIT, _INT_LIMIT).astype(np.int32)
    return samples, placed
