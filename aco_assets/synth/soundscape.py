"""The background of the synthetic ACO soundscape: pressure wander plus ambient noise.

The background is Gaussian noise shaped in the frequency domain (one inverse real FFT per file):
its power spectral density is the weighted sum of a few components, each given as a table of
levels in dB against frequency and interpolated linearly in log-frequency:

``wander``   the large, slow pressure offset of swell and microseisms (0.02-0.5 Hz, falling about
             50 dB by 5 Hz), as in the raw ACO clips (``../shared/data/aco-acoio``);
``ambient``  the deep-ocean floor from 5 Hz to 12 kHz: falling about 1.3 dB per octave from 50 Hz
             to 6 kHz and rolling off above 6 kHz, as the real recordings do;
``shipping`` distant shipping, a hump at 20-300 Hz (Wenz 1962);
``wind``     surface wind and wave noise, a hump at 300 Hz-5 kHz (Wenz 1962);
``lines``    narrow system lines near 3.8, 4.15 and 5.6 kHz seen in the real raw clips.

Levels are in raw counts: the wander has a standard deviation of ``wander_std_counts`` (peaks
near +-8e4 counts) and the ambient component one of ``noise_std_counts`` (about 2e4 counts peak
to peak).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.fft

SAMPLE_RATE_HZ = 24_000

Component = Literal["wander", "ambient", "shipping", "wind", "lines"]

# (frequency Hz, level dB) tables; interpolated linearly in log10(f), constant beyond the ends.
_PSD_TABLES_DB: dict[str, tuple[tuple[float, float], ...]] = {
    "wander": (
        (0.005, -12.0),
        (0.03, -3.0),
        (0.12, 0.0),
        (0.4, 0.0),
        (0.6, -16.0),
        (1.2, -24.0),
        (2.0, -37.0),
        (3.0, -43.0),
        (4.5, -51.0),
        (6.0, -60.0),
        (10.0, -90.0),
        (20.0, -140.0),
    ),
    "ambient": (
        (1.0, -12.0),
        (5.0, -6.0),
        (10.0, -7.0),
        (20.0, -2.0),
        (50.0, 0.0),
        (100.0, -1.5),
        (200.0, -3.0),
        (400.0, -4.5),
        (700.0, -6.0),
        (1000.0, -7.0),
        (2000.0, -7.5),
        (4000.0, -8.0),
        (6000.0, -8.5),
        (7000.0, -13.0),
        (8000.0, -19.0),
        (10000.0, -27.0),
        (12000.0, -35.0),
    ),
    "shipping": (
        (5.0, -30.0),
        (20.0, -6.0),
        (50.0, 0.0),
        (100.0, -2.0),
        (300.0, -14.0),
        (1000.0, -35.0),
        (3000.0, -60.0),
    ),
    "wind": (
        (50.0, -40.0),
        (100.0, -22.0),
        (300.0, -6.0),
        (800.0, 0.0),
        (2000.0, -3.0),
        (5000.0, -12.0),
        (8000.0, -25.0),
        (12000.0, -40.0),
    ),
}
# Narrow system lines: (centre Hz, half-width Hz, level dB re the ambient floor at that frequency).
_LINES: tuple[tuple[float, float, float], ...] = (
    (3800.0, 0.6, 12.0),
    (4150.0, 0.8, 15.0),
    (5600.0, 0.6, 10.0),
)


@dataclass(frozen=True)
class BackgroundParams:
    """Levels of one file's background.

    Attributes
    ----------
    wander_std_counts : float
        Standard deviation of the pressure wander, raw counts.
    noise_std_counts : float
        Standard deviation of the ambient floor (5 Hz-12 kHz), raw counts.
    shipping_db, wind_db : float
        Power of the distant-shipping and wind components, dB relative to the ambient floor's power.
    gain : float
        Instrument gain multiplying the whole file (slow drift; 1.0 nominal).
    """

    wander_std_counts: float = 3.0e4
    noise_std_counts: float = 3.0e3
    shipping_db: float = -3.0
    wind_db: float = -3.0
    gain: float = 1.0


def psd_shape(freqs_hz: np.ndarray, component: Component) -> np.ndarray:
    """Relative power spectral density of one background component.

    Parameters
    ----------
    freqs_hz : ndarray, shape (F,), float
        Frequencies in Hz (0 allowed; it takes the lowest tabulated level).
    component : {"wander", "ambient", "shipping", "wind", "lines"}
        Which component. ``"lines"`` returns the narrow system lines relative to the ambient floor.

    Returns
    -------
    ndarray, shape (F,), float64
        Linear power density, unnormalised (peak near 1).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    if component == "lines":
        out = np.zeros_like(f)
        floor = psd_shape(f, "ambient")
        for centre, half_width, level_db in _LINES:
            near = np.abs(f - centre) <= half_width
            out[near] += floor[near] * 10.0 ** (level_db / 10.0)
        return out
    table = np.asarray(_PSD_TABLES_DB[component])  # (P, 2)
    log_f = np.log10(np.maximum(f, table[0, 0]))
    level_db = np.interp(log_f, np.log10(table[:, 0]), table[:, 1])
    return 10.0 ** (level_db / 10.0)


_COMPONENTS: tuple[Component, ...] = ("wander", "ambient", "shipping", "wind", "lines")


@functools.lru_cache(maxsize=4)
def _unit_shapes(n_fft: int, sample_rate_hz: float) -> np.ndarray:
    """Each component's PSD on the rfft grid, scaled so its time series has unit variance.

    Returns an array of shape (5, F), float32, rows in the order of ``_COMPONENTS``.
    """
    freqs = scipy.fft.rfftfreq(n_fft, d=1.0 / sample_rate_hz)  # (F,)
    shapes = np.empty((len(_COMPONENTS), freqs.size), np.float32)  # (5, F)
    for row, component in enumerate(_COMPONENTS):
        psd = psd_shape(freqs, component)  # (F,)
        psd[0] = 0.0  # no dc: the offset of a file is the wander's slow part
        # variance of irfft(sqrt(psd) * (a + ib)) with a, b ~ N(0, 1): 2 * sum(psd) / n**2
        shapes[row] = psd / (2.0 * psd.sum() / n_fft**2)
    return shapes


def component_variances(params: BackgroundParams) -> np.ndarray:
    """Variance of each component in counts^2, shape (5,), in the order of ``_COMPONENTS``."""
    noise_var = params.noise_std_counts**2
    return np.array(
        [
            params.wander_std_counts**2,
            noise_var,
            noise_var * 10.0 ** (params.shipping_db / 10.0),
            noise_var * 10.0 ** (params.wind_db / 10.0),
            noise_var * 0.02,  # the system lines carry 2 % of the ambient floor's power
        ]
    )


def background(
    n_samples: int,
    rng: np.random.Generator,
    *,
    params: BackgroundParams = BackgroundParams(),
    sample_rate_hz: float = SAMPLE_RATE_HZ,
) -> np.ndarray:
    """Synthesize one file's background: Gaussian noise with the components' summed PSD.

    Parameters
    ----------
    n_samples : int
        Length in samples.
    rng : numpy.random.Generator
        Source of randomness (the only one; same state, same output).
    params : BackgroundParams
        Levels of the components.
    sample_rate_hz : float
        Sample rate in Hz.

    Returns
    -------
    ndarray, shape (n_samples,), float64
        Raw counts, zero mean in expectation, already multiplied by ``params.gain``.
    """
    n_fft = scipy.fft.next_fast_len(int(n_samples), real=True)
    shapes = _unit_shapes(n_fft, float(sample_rate_hz))  # (5, F)
    weights = (component_variances(params) * params.gain**2 * 0.5).astype(np.float32)  # (5,)
    amplitude = np.sqrt(weights @ shapes)  # (F,)
    spectrum = np.empty(n_fft // 2 + 1, dtype=np.complex64)  # (F,)
    spectrum.view(np.float32)[:] = rng.standard_normal(2 * spectrum.size, dtype=np.float32)
    spectrum *= amplitude
    x = scipy.fft.irfft(spectrum, n_fft, workers=1)  # (n_fft,) float32
    return x[:n_samples].astype(np.float64)
