"""One test per sound source: length, band, and the feature that makes the source what it is."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from aco_assets.synth import events
from aco_assets.synth.render import band_power

SR = 24_000


def _peak_hz(x: np.ndarray, *, nperseg: int = 4096) -> float:
    f, p = scipy.signal.welch(x, SR, nperseg=min(nperseg, x.size))
    return float(f[np.argmax(p)])


def _share(x: np.ndarray, lo: float, hi: float) -> float:
    return band_power(x, lo, hi) / band_power(x, 0, SR / 2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


def test_every_class_has_a_source():
    from aco_assets.synth import EVENT_CLASSES

    assert set(events.SOURCES) == set(EVENT_CLASSES)


def test_humpback_song_is_a_phrase_of_repeated_tonal_units_in_its_band(rng):
    sound = events.humpback_song(rng, duration_s=20.0)
    assert sound.samples.shape == (20 * SR,)
    assert 80.0 <= sound.f_low_hz < sound.f_high_hz <= 4000.0
    assert _share(sound.samples, sound.f_low_hz, sound.f_high_hz) > 0.95
    # units separated by silent gaps: the envelope drops to zero between them
    env = scipy.signal.oaconvolve(sound.samples**2, np.ones(SR // 50), mode="same")  # 20 ms power
    active = env > 0.01 * env.max()
    edges = np.flatnonzero(np.diff(active.astype(int)))
    assert len(edges) >= 4  # at least two whole units (with the phrase's start and end)
    assert (np.diff(edges) / SR).min() > 0.1  # units and gaps both last


def test_blue_whale_call_has_tones_near_18_5_then_16_5_hz(rng):
    sound = events.blue_whale_call(rng, duration_s=20.0)
    n = sound.samples.size
    assert (sound.f_low_hz, sound.f_high_hz) == (15.0, 20.0)
    first = _peak_hz(sound.samples[int(0.05 * n) : int(0.28 * n)], nperseg=4 * SR)
    second = _peak_hz(sound.samples[int(0.5 * n) : int(0.95 * n)], nperseg=4 * SR)
    assert first == pytest.approx(18.5, abs=0.75)
    assert second == pytest.approx(16.5, abs=0.75)


def test_minke_boing_is_a_1_4_khz_tone_pulsed_near_115_hz(rng):
    sound = events.minke_boing(rng, duration_s=2.5)
    assert sound.samples.size == int(2.5 * SR)
    assert _peak_hz(sound.samples) == pytest.approx(1390.0, abs=60.0)
    env = np.abs(scipy.signal.hilbert(sound.samples))
    pulse = _peak_hz(env - env.mean(), nperseg=SR)
    assert 95.0 <= pulse <= 135.0
    assert _share(sound.samples, sound.f_low_hz, sound.f_high_hz) > 0.9


def test_sperm_whale_clicks_are_broadband_impulses_at_regular_intervals(rng):
    sound = events.sperm_whale_clicks(rng, duration_s=10.0)
    x = np.abs(sound.samples)
    assert _share(sound.samples, 2000.0, 9000.0) > 0.9
    peaks, _ = scipy.signal.find_peaks(x, height=0.3 * x.max(), distance=int(0.3 * SR))
    ici = np.diff(peaks) / SR
    assert len(peaks) >= 7
    assert 0.4 <= np.median(ici) <= 1.35
    assert np.mean(x > 0.05 * x.max()) < 0.05  # mostly silence between clicks


def test_ship_passage_rises_and_falls_with_low_frequency_tonals(rng):
    sound = events.ship_passage(rng, duration_s=120.0)
    x = sound.samples
    assert _share(x, 10.0, 1000.0) > 0.95
    thirds = [np.mean(seg**2) for seg in np.array_split(x, 6)]
    assert max(thirds[2], thirds[3]) > 2 * max(thirds[0], thirds[5])
    f, p = scipy.signal.welch(x, SR, nperseg=8 * SR)
    low = (f > 10) & (f < 110)
    assert p[low].max() > 20 * np.median(p[low])  # blade-rate lines stand out


def test_rain_is_band_limited_noise_from_1_to_10_khz(rng):
    sound = events.rain(rng, duration_s=60.0)
    assert _share(sound.samples, 1000.0, 10000.0) > 0.99
    edges = np.mean(sound.samples[:SR] ** 2), np.mean(sound.samples[-SR:] ** 2)
    middle = np.mean(sound.samples[25 * SR : 35 * SR] ** 2)
    assert middle > 3 * max(edges)


def test_earthquake_is_low_frequency_with_a_later_stronger_arrival(rng):
    sound = events.earthquake(rng, duration_s=90.0)
    x = sound.samples
    assert _share(x, 3.0, 30.0) > 0.99
    env = scipy.signal.oaconvolve(x**2, np.ones(SR) / SR, mode="same")  # 1 s running power
    assert np.argmax(env) > 0.1 * x.size  # the S / T arrival, not the onset, is strongest
    assert env[-2 * SR] < 0.2 * env.max()  # decays


def test_implosion_is_an_impulse_followed_by_a_decaying_bubble_pulse(rng):
    sound = events.implosion(rng, duration_s=0.3)
    x = sound.samples
    assert np.argmax(np.abs(x)) < int(0.002 * SR)
    assert np.abs(x[-SR // 50 :]).max() < 0.1 * np.abs(x).max()
    assert (sound.f_low_hz, sound.f_high_hz) == (20.0, 5000.0)


def test_dropout_replaces_its_span_with_zeros(rng):
    sound = events.glitch_dropout(rng, duration_s=0.4)
    assert sound.dropout_mask is not None and sound.dropout_mask.all()
    assert not sound.samples.any() and not sound.scalable


def test_spike_is_a_few_samples_wide(rng):
    sound = events.glitch_spike(rng, duration_s=0.002)
    assert 1 <= np.count_nonzero(sound.samples) <= 3
    assert set(np.unique(np.abs(sound.samples))) == {0.0, 1.0}


def test_dc_step_is_a_constant_offset_for_its_duration(rng):
    sound = events.glitch_dc_step(rng, duration_s=3.0)
    assert sound.samples.size == 3 * SR
    assert np.ptp(sound.samples) == 0 and abs(sound.samples[0]) == 1.0


@pytest.mark.parametrize("label", sorted(events.SOURCES))
def test_same_generator_state_gives_the_same_sound(label):
    a = events.SOURCES[label](np.random.default_rng(5), duration_s=3.0)
    b = events.SOURCES[label](np.random.default_rng(5), duration_s=3.0)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert np.isfinite(a.samples).all()
