"""What makes real data hard, each on its own random stream (:func:`stream`).

Every factor draws only from its own stream, seeded by (seed, file's nominal minute, factor), so
turning one off (:class:`Hardness`) leaves every other factor's output and the real-noise bed
unchanged. None of them is in the catalog: they are part of the background.

- ``shipping_hum``: distant shipping in a share of files (45 %, x0.6 in the low-traffic months
  June-September, x0.7 in HST evenings): blade-rate harmonics (6-12 Hz fundamental), two or three
  machinery lines at 40-300 Hz and 20-500 Hz band noise, at -8 to 0 dB re the bed in 20-500 Hz,
  slowly modulated (+-2 dB);
- ``faint_song``: in whale season (December-May, 80 % of files) a bed of distant humpback units
  (the real units of :mod:`aco_assets.synth.calls`) one every 0.5-3 s, each at -24 to -12 dB band
  SNR, well below the labelled ones;
- ``sea_state``: the bed's level between files (+-1.5 dB over the year with the summer trade
  winds, plus N(0, 2 dB) weather) and within files (a smooth +-1 dB wander, and in 30 % of files
  a squall step of 2-4 dB up or down over 30 s);
- ``gain_drift``: the instrument's gain over the years (+-3 % seasonal, +1 % a year since 2015)
  and within a file (a smooth +-1 % drift); it multiplies everything, events included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import scipy.signal

from aco_assets.synth.calls import Call
from aco_assets.synth.events import _band_noise, _tone
from aco_assets.synth.render import band_power
from aco_assets.synth.schedule import is_evening
from aco_assets.synth.sounds import SAMPLE_RATE_HZ

#: Stream numbers (the third word of each stream's seed).
STREAMS: dict[str, int] = {
    "bed": 1,
    "shipping_hum": 2,
    "faint_song": 3,
    "sea_state": 4,
    "gain_drift": 5,
    "clock_offset": 6,
    "glitches": 7,
    "wander": 8,
}
WHALE_MONTHS = (12, 1, 2, 3, 4, 5)
LOW_TRAFFIC_MONTHS = (6, 7, 8, 9)


@dataclass(frozen=True)
class Hardness:
    """Which hardness factors the realistic preset adds (all by default)."""

    shipping_hum: bool = True
    faint_song: bool = True
    sea_state: bool = True
    gain_drift: bool = True


def file_rng(seed: int, nominal: dt.datetime) -> np.random.Generator:
    """The main random stream of the file with nominal start ``nominal`` (its length, start and
    labelled events, in every preset); each hardness factor has a stream of its own (:func:`stream`)."""
    minutes = int((nominal - dt.datetime(1970, 1, 1)).total_seconds() // 60)
    return np.random.default_rng(np.random.SeedSequence([seed, minutes]))


def stream(seed: int, nominal: dt.datetime, name: str) -> np.random.Generator:
    """The random stream of factor ``name`` for the file with nominal start ``nominal``."""
    minutes = int((nominal - dt.datetime(1970, 1, 1)).total_seconds() // 60)
    return np.random.default_rng(np.random.SeedSequence([seed, minutes, STREAMS[name]]))


def _smooth(n: int, rng: np.random.Generator, knot_s: float, std: float) -> np.ndarray:
    """A smooth random curve (linear between knots every ``knot_s``), shape (n,)."""
    n_knots = int(n / (knot_s * SAMPLE_RATE_HZ)) + 2
    knots = rng.normal(0.0, std, n_knots)
    return np.interp(np.arange(n), np.linspace(0, n, n_knots), knots)


def sea_state_db(nominal: dt.datetime, n: int, rng: np.random.Generator) -> np.ndarray:
    """The bed's level change, dB, shape (n,)."""
    day = nominal.timetuple().tm_yday
    level = 1.5 * np.cos(2 * np.pi * (day - 196) / 365.25) + rng.normal(0.0, 2.0)
    out = level + _smooth(n, rng, 20.0, 1.0)
    if rng.random() < 0.3:  # a squall front passes
        at, size = rng.uniform(0, n), rng.choice((-1.0, 1.0)) * rng.uniform(2.0, 4.0)
        ramp = np.clip((np.arange(n) - at) / (30.0 * SAMPLE_RATE_HZ), 0.0, 1.0)
        out += size * ramp
    return out


def gain(nominal: dt.datetime, n: int, rng: np.random.Generator) -> np.ndarray:
    """The instrument gain (1 = nominal), shape (n,)."""
    years = (nominal - dt.datetime(2015, 1, 1)).total_seconds() / (365.25 * 86400.0)
    long_term = (1.0 + 0.03 * np.sin(2.0 * np.pi * years)) * (1.0 + 0.01 * years)
    return long_term * (1.0 + _smooth(n, rng, 60.0, 0.005))


def shipping_hum(
    nominal: dt.datetime, bed: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """Distant shipping, counts (shape of ``bed``), or None when this file has none."""
    p = 0.45 * (0.6 if nominal.month in LOW_TRAFFIC_MONTHS else 1.0)
    p *= 0.7 if is_evening(nominal) else 1.0
    if rng.random() >= p:
        return None
    n = bed.size
    up = 20  # everything lies below 500 Hz: synthesised at 1200 Hz, then resampled to 24 kHz
    sr, n_low = SAMPLE_RATE_HZ / up, bed.size // up + 1
    blade = rng.uniform(6.0, 12.0)
    drift = 1.0 + _smooth(n_low * up, rng, 60.0, 0.002)[::up]  # (n_low,)
    x = sum(_tone(k * blade * drift, sr, rng.uniform(0, 6.3)) / k for k in range(1, 7))
    for f in rng.uniform(40.0, 300.0, int(rng.integers(2, 4))):
        x = x + 0.5 * _tone(np.full(n_low, f), sr, rng.uniform(0, 6.3))
    x = x + 2.0 * _band_noise(n_low, 20.0, 500.0, rng, sr)
    x *= 10.0 ** (_smooth(n_low * up, rng, 90.0, 1.0)[::up] / 20.0)
    x = scipy.signal.resample_poly(x, up, 1)[:n]
    ref = slice(0, min(n, 20 * SAMPLE_RATE_HZ))
    target = band_power(bed[ref], 20.0, 500.0) * 10.0 ** (rng.uniform(-8.0, 0.0) / 10.0)
    return x * np.sqrt(target / max(band_power(x[ref], 20.0, 500.0), 1e-30))


def faint_song(
    nominal: dt.datetime, bed: np.ndarray, units: list[Call], rng: np.random.Generator
) -> np.ndarray | None:
    """Distant humpback units far below the labelled ones, counts, or None out of season."""
    if nominal.month not in WHALE_MONTHS or not units or rng.random() >= 0.8:
        return None
    out = np.zeros_like(bed)
    t = int(rng.uniform(0.0, 3.0) * SAMPLE_RATE_HZ)
    while t < bed.size:
        unit = units[int(rng.integers(len(units)))]
        n = min(unit.samples.size, bed.size - t)
        p_bg = band_power(bed[t : t + n], unit.low_hz, unit.high_hz)
        p_unit = max(band_power(unit.samples[:n], unit.low_hz, unit.high_hz), 1e-30)
        snr = rng.uniform(-24.0, -12.0)
        out[t : t + n] += unit.samples[:n] * np.sqrt(10 ** (snr / 10) * p_bg / p_unit)
        t += n + int(rng.uniform(0.5, 3.0) * SAMPLE_RATE_HZ)
    return out
