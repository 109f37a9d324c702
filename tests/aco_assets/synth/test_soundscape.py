"""The background: levels in counts, spectral shape, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from aco_assets.synth import BackgroundParams, background
from aco_assets.synth.render import band_power
from aco_assets.synth.soundscape import psd_shape

SR = 24_000


@pytest.fixture(scope="module")
def minute() -> np.ndarray:
    return background(60 * SR, np.random.default_rng(3), params=BackgroundParams())


def test_levels_match_the_stated_counts(minute):
    low = scipy.signal.sosfiltfilt(scipy.signal.butter(4, 5, fs=SR, output="sos"), minute)
    assert np.std(low) == pytest.approx(3.0e4, rel=0.35)  # slow wander, +-8e4 peaks
    high = band_power(minute, 20.0, SR / 2)
    # ambient 3e3 counts plus shipping and wind at -3 dB each
    assert np.sqrt(high) == pytest.approx(3.0e3 * np.sqrt(2.0), rel=0.1)


def test_most_energy_is_below_20_hz_and_the_spectrum_rolls_off_above_8_khz(minute):
    assert band_power(minute, 0, 20) / band_power(minute, 0, SR / 2) > 0.9
    f, p = scipy.signal.welch(minute, SR, nperseg=SR)
    mid = p[(f > 1000) & (f < 2000)].mean()
    assert p[(f > 10000) & (f < 11000)].mean() < mid / 30
    assert p[(f > 30) & (f < 60)].mean() > 3 * mid  # rising toward low frequencies


def test_system_lines_stand_out_of_the_floor(minute):
    f, p = scipy.signal.welch(minute, SR, nperseg=4 * SR)
    near = (f > 4100) & (f < 4200)
    assert p[near].max() > 10 * np.median(p[near])


def test_same_generator_state_gives_the_same_background():
    a = background(SR, np.random.default_rng(9))
    b = background(SR, np.random.default_rng(9))
    c = background(SR, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gain_scales_the_whole_background():
    a = background(SR, np.random.default_rng(9))
    b = background(SR, np.random.default_rng(9), params=BackgroundParams(gain=1.5))
    np.testing.assert_allclose(b, 1.5 * a, rtol=0, atol=1e-4 * np.std(a))  # float32 synthesis


def test_psd_tables_are_positive_and_finite_from_0_hz_to_nyquist():
    f = np.linspace(0, SR / 2, 1001)
    for component in ("wander", "ambient", "shipping", "wind"):
        shape = psd_shape(f, component)
        assert np.isfinite(shape).all() and (shape > 0).all()
