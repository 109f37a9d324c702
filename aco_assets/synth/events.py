"""Sound sources of the synthetic ACO soundscape, one small function per event class.

Each function synthesises one event on its own short support at an arbitrary scale; the archive
writer scales it to the SNR it drew (:mod:`aco_assets.synth.archive`) and adds it in place.
Every function takes the random generator first and keyword-only tuning parameters, and returns an
:class:`EventSound` whose ``f_low_hz`` / ``f_high_hz`` is the band the catalog reports and the SNR
is measured in.

Sources and the literature they follow:
humpback song units in phrases (Payne & McVay 1971; units 0.35-1.7 s at 130-340 Hz measured on the
real ACO clips), Central North Pacific blue whale tones near 16.5 and 18.5 Hz (Stafford et al. 2001),
minke "boings" near 1.4 kHz with 115 Hz pulsing (Rankin & Barlow 2005), sperm whale multipulse clicks
(Madsen et al. 2002), ship passages with a closest-point-of-approach envelope, blade-rate tonals and
Doppler (Ross 1976), rain noise 1-10 kHz (Ma et al. 2005), earthquake P/T arrivals at 3-30 Hz,
glass-float implosions (impulse plus bubble pulse) and instrument glitches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.signal

from aco_assets.synth.soundscape import SAMPLE_RATE_HZ


@dataclass(frozen=True)
class EventSound:
    """One synthesised event.

    Attributes
    ----------
    samples : ndarray, shape (n,), float64
        The event's pressure signal, arbitrary scale, added to the background.
    f_low_hz, f_high_hz : float
        Band holding the event's energy, Hz.
    dropout_mask : ndarray of bool, shape (n,), or None
        Where the instrument lost the signal: the background is zeroed there before ``samples``
        is added (dropouts only).
    scalable : bool
        Whether the writer may rescale ``samples`` to a drawn SNR (False for dropouts, whose SNR
        is whatever they remove).
    """

    samples: np.ndarray
    f_low_hz: float
    f_high_hz: float
    dropout_mask: np.ndarray | None = None
    scalable: bool = True


def _n(duration_s: float, sample_rate_hz: float) -> int:
    return max(1, int(round(duration_s * sample_rate_hz)))


def _tone(freq_hz: np.ndarray, sample_rate_hz: float, phase0: float = 0.0) -> np.ndarray:
    """Unit sinusoid following an instantaneous frequency contour (shape (n,), Hz)."""
    return np.sin(phase0 + 2.0 * np.pi * np.cumsum(freq_hz) / sample_rate_hz)


def _band_noise(
    n: int, f_low_hz: float, f_high_hz: float, rng: np.random.Generator, sample_rate_hz: float
) -> np.ndarray:
    """Unit-variance Gaussian noise limited to [f_low_hz, f_high_hz] (FFT-shaped), shape (n,)."""
    n_fft = scipy.fft.next_fast_len(n, real=True)
    freqs = scipy.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)
    spectrum = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
    spectrum[(freqs < f_low_hz) | (freqs > f_high_hz)] = 0.0
    x = scipy.fft.irfft(spectrum, n_fft)[:n]
    return x / max(float(np.std(x)), 1e-12)


def _fade(n: int, fade_samples: int) -> np.ndarray:
    """Raised-cosine fade in and out, shape (n,)."""
    env = np.ones(n)
    k = min(fade_samples, n // 2)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        env[:k] = ramp
        env[n - k :] = ramp[::-1]
    return env


def humpback_song(
    rng: np.random.Generator,
    *,
    duration_s: float = 15.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A humpback song phrase: a theme of 2-4 units sung twice or more, filling ``duration_s``.

    Units last 0.3-4 s (median 0.8 s) with frequency contours (up/down sweeps, flat moans) whose
    fundamentals lie at 90-1000 Hz (median 250 Hz), with up to three harmonics; gaps of 0.2-1.0 s separate them.
    """
    n_units = int(rng.integers(2, 5))
    # (unit duration s, start f0 Hz, relative sweep): log-normal around the units measured on
    # real ACO song (median 0.8 s, 250 Hz)
    theme = [
        (
            float(np.clip(rng.lognormal(np.log(0.8), 0.5), 0.3, 4.0)),
            float(np.clip(rng.lognormal(np.log(250.0), 0.45), 90.0, 1000.0)),
            float(rng.uniform(-0.4, 0.4)),
        )
        for _ in range(n_units)
    ]
    n_total = _n(duration_s, sample_rate_hz)
    out = np.zeros(n_total)
    pos, f_low, f_high, i = int(rng.uniform(0.0, 0.3) * sample_rate_hz), np.inf, 0.0, 0
    while True:
        unit_s, f0, sweep = theme[i % n_units]
        n_unit = _n(unit_s, sample_rate_hz)
        if pos + n_unit > n_total:
            break
        contour = np.clip(f0 * (1.0 + sweep * np.linspace(0.0, 1.0, n_unit) ** 1.5), 90.0, 1300.0)
        unit = sum((0.6**h) * _tone((h + 1) * contour, sample_rate_hz) for h in range(3))
        out[pos : pos + n_unit] += unit * _fade(n_unit, int(0.08 * sample_rate_hz))
        f_low, f_high = min(f_low, contour.min()), max(f_high, 3 * contour.max())
        pos += n_unit + _n(rng.uniform(0.2, 1.0), sample_rate_hz)
        i += 1
    if i == 0:  # too short for the first unit: sing a shortened one
        contour = np.full(n_total, theme[0][1])
        out = _tone(contour, sample_rate_hz) * _fade(n_total, n_total // 8)
        f_low, f_high = theme[0][1], 3 * theme[0][1]
    return EventSound(out, float(0.9 * f_low), float(min(1.1 * f_high, 4000.0)))


def blue_whale_call(
    rng: np.random.Generator,
    *,
    duration_s: float = 18.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A Central North Pacific blue whale call: a tone near 18.5 Hz, then one near 16.5 Hz.

    Both parts sweep down by about 0.3 Hz; the second is longer and louder.
    """
    n = _n(duration_s, sample_rate_hz)
    split = int(n * rng.uniform(0.3, 0.45))
    t = np.arange(n) / n
    f_first = 18.5 + rng.normal(0.0, 0.15)
    f_second = 16.5 + rng.normal(0.0, 0.15)
    contour = np.where(np.arange(n) < split, f_first - 0.3 * t, f_second - 0.3 * t)  # (n,) Hz
    amp = np.where(np.arange(n) < split, 0.6, 1.0) * _fade(n, int(1.0 * sample_rate_hz))
    amp[split - 1 : split + 1] = 0.0
    return EventSound(amp * _tone(contour, sample_rate_hz), 15.0, 20.0)


def minke_boing(
    rng: np.random.Generator,
    *,
    duration_s: float = 2.5,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A minke whale "boing": a brief onset pulse, then a ~1.4 kHz tone pulsed at ~115 Hz."""
    n = _n(duration_s, sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    carrier_hz = rng.uniform(1350.0, 1430.0)
    pulse_hz = rng.uniform(100.0, 130.0)
    am = 0.5 + 0.5 * np.cos(2.0 * np.pi * pulse_hz * t)  # pulsing
    x = am * _tone(np.full(n, carrier_hz), sample_rate_hz) * _fade(n, int(0.05 * sample_rate_hz))
    onset = min(n, int(0.1 * sample_rate_hz))
    x[:onset] *= 2.0
    return EventSound(x, float(carrier_hz - 2 * pulse_hz), float(carrier_hz + 2 * pulse_hz))


def sperm_whale_clicks(
    rng: np.random.Generator,
    *,
    duration_s: float = 20.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A sperm whale click train: multipulse broadband clicks (2-9 kHz) every 0.5-1.2 s."""
    n = _n(duration_s, sample_rate_hz)
    out = np.zeros(n)
    ici_s = rng.uniform(0.5, 1.2)
    ipi = _n(rng.uniform(0.003, 0.006), sample_rate_hz)  # inter-pulse interval of the multipulse
    n_click = _n(0.002, sample_rate_hz)
    sos = scipy.signal.butter(
        4, [2000.0, 9000.0], btype="bandpass", fs=sample_rate_hz, output="sos"
    )
    pos = _n(rng.uniform(0.0, ici_s), sample_rate_hz)
    while pos + 3 * ipi + n_click < n:
        click = rng.standard_normal(n_click) * np.exp(-np.arange(n_click) / (0.3 * n_click))
        for k, level in enumerate((1.0, 0.5, 0.25)):
            out[pos + k * ipi : pos + k * ipi + n_click] += level * click
        pos += _n(ici_s * rng.uniform(0.9, 1.1), sample_rate_hz)
    return EventSound(scipy.signal.sosfilt(sos, out), 2000.0, 9000.0)


def ship_passage(
    rng: np.random.Generator,
    *,
    duration_s: float = 180.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A ship passing: broadband 15-1000 Hz noise and blade-rate tonals, rising then falling.

    The level follows a closest-point-of-approach envelope ``1 / (1 + ((t - t_cpa) / tau)**2)``
    and the tonals shift by Doppler (+-0.5 %) through the passage.
    """
    n = _n(duration_s, sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    t_cpa, tau = duration_s * rng.uniform(0.35, 0.65), duration_s * rng.uniform(0.12, 0.25)
    envelope = 1.0 / (1.0 + ((t - t_cpa) / tau) ** 2)  # (n,) power
    blade_hz = rng.uniform(6.0, 12.0)
    doppler = 1.0 + 0.005 * np.tanh(-(t - t_cpa) / tau)  # (n,) approaching: higher
    tonals = sum(
        _tone(k * blade_hz * doppler, sample_rate_hz, rng.uniform(0, 6.3)) / k for k in range(2, 9)
    )
    noise = _band_noise(n, 15.0, 1000.0, rng, sample_rate_hz)
    x = np.sqrt(envelope) * (noise + 0.5 * tonals) * _fade(n, int(2.0 * sample_rate_hz))
    return EventSound(x, 15.0, 1000.0)


def rain(
    rng: np.random.Generator,
    *,
    duration_s: float = 120.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A rain shower: 1-10 kHz noise whose level ramps up, fluctuates and ramps down."""
    n = _n(duration_s, sample_rate_hz)
    n_knots = max(4, int(duration_s / 10.0))
    knots = np.exp(rng.normal(0.0, 0.3, n_knots)) * np.hanning(n_knots + 2)[1:-1]
    envelope = np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)
    x = _band_noise(n, 1000.0, 10000.0, rng, sample_rate_hz) * envelope
    return EventSound(x, 1000.0, 10000.0)


def earthquake(
    rng: np.random.Generator,
    *,
    duration_s: float = 90.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """An earthquake: a P arrival then a stronger later (S/T-phase) arrival at 3-30 Hz, decaying."""
    n = _n(duration_s, sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    t_second = duration_s * rng.uniform(0.15, 0.35)
    decay_s = duration_s * 0.2
    envelope = 0.4 * np.exp(-t / decay_s) + (t >= t_second) * np.exp(-(t - t_second) / decay_s)
    x = (
        _band_noise(n, 3.0, 30.0, rng, sample_rate_hz)
        * envelope
        * _fade(n, int(0.2 * sample_rate_hz))
    )
    return EventSound(x, 3.0, 30.0)


def implosion(
    rng: np.random.Generator,
    *,
    duration_s: float = 0.3,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A glass-float implosion: a sharp negative-positive impulse, then a decaying bubble pulse."""
    n = _n(duration_s, sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    bubble_hz = rng.uniform(60.0, 250.0)
    x = np.exp(-t / (0.15 * duration_s)) * np.sin(2.0 * np.pi * bubble_hz * t)
    k = _n(0.0004, sample_rate_hz)
    x[:k] -= 4.0
    x[k : 2 * k] += 6.0
    return EventSound(x, 20.0, 5000.0)


def glitch_dropout(
    rng: np.random.Generator,
    *,
    duration_s: float = 0.5,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """An instrument dropout: the samples read as zero for ``duration_s``."""
    n = _n(duration_s, sample_rate_hz)
    return EventSound(
        np.zeros(n), 0.0, sample_rate_hz / 2, dropout_mask=np.ones(n, bool), scalable=False
    )


def glitch_spike(
    rng: np.random.Generator,
    *,
    duration_s: float = 0.002,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A spike: a few samples of large amplitude and random sign (cable or electronics glitch)."""
    n = _n(duration_s, sample_rate_hz)
    x = np.zeros(n)
    width = int(rng.integers(1, 4))
    x[n // 2 : n // 2 + width] = rng.choice((-1.0, 1.0))
    return EventSound(x, 100.0, sample_rate_hz / 2)


def glitch_dc_step(
    rng: np.random.Generator,
    *,
    duration_s: float = 5.0,
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> EventSound:
    """A dc step: the offset jumps for ``duration_s`` and jumps back (instrument fault)."""
    n = _n(duration_s, sample_rate_hz)
    return EventSound(np.full(n, rng.choice((-1.0, 1.0))), 0.0, 20.0)


SOURCES = {
    "humpback": humpback_song,
    "blue_whale": blue_whale_call,
    "minke": minke_boing,
    "sperm_whale": sperm_whale_clicks,
    "ship": ship_passage,
    "rain": rain,
    "earthquake": earthquake,
    "implosion": implosion,
    "glitch_dropout": glitch_dropout,
    "glitch_spike": glitch_spike,
    "glitch_dc_step": glitch_dc_step,
}
