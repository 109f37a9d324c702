"""The band-energy z-score detector: band layout, calibration, tones, offset wander, NaN."""

from __future__ import annotations

import numpy as np
import pytest

from aco_assets.scoring.evaluation import EvaluationError
from aco_assets.yardstick import BandEnergyDetector, third_octave_bands

FS = 24000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20170301)


@pytest.fixture(scope="module")
def fitted() -> dict[float, BandEnergyDetector]:
    """Detectors fitted on 120 s of white noise (sigma 100 counts), per step_s, seeded."""
    rng = np.random.default_rng(96)
    out = {}
    for step_s in (1.0, 5.0):
        det = BandEnergyDetector(step_s=step_s)
        out[step_s] = det.fit(det.levels(_noise(rng, 120.0))[1])
    return out


def _noise(rng: np.random.Generator, seconds: float, sigma: float = 100.0) -> np.ndarray:
    return (sigma * rng.standard_normal(int(seconds * FS))).astype(np.float32)


def _tone(freq_hz: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_third_octave_bands_follow_iec_nominal_centres_from_10_hz_to_10_khz():
    bands = third_octave_bands()
    assert len(bands.center_hz) == 31
    assert bands.names[:4] == ["tob_10hz", "tob_12.5hz", "tob_16hz", "tob_20hz"]
    assert bands.names[-1] == "tob_10000hz" and "tob_31.5hz" in bands.names
    np.testing.assert_allclose(bands.upper_hz[:-1], bands.lower_hz[1:])  # adjacent, no gap
    np.testing.assert_allclose(bands.center_hz[bands.names.index("tob_1000hz")], 1000.0)


@pytest.mark.parametrize("step_s", [1.0, 0.25])  # production; steps shorter than 1 / bandwidth
def test_white_noise_levels_match_variance_times_bandwidth(rng, step_s):
    det = BandEnergyDetector(step_s=step_s)
    _, levels = det.levels(_noise(rng, 30.0))
    bands = det.bands
    expected = 10 * np.log10(100.0**2 * (bands.upper_hz - bands.lower_hz) / (FS / 2))
    mean_power_db = 10 * np.log10(np.mean(10 ** (levels / 10), axis=0))  # (B,)
    tol = np.where(bands.center_hz < 100, 1.0, 0.3)  # few degrees of freedom in narrow bands
    assert np.all(np.abs(mean_power_db - expected) < tol)


def test_fft_is_zero_padded_so_the_narrowest_band_spans_several_bins():
    for step_s in (0.1, 1.0, 5.0):
        det = BandEnergyDetector(step_s=step_s)
        narrowest = np.min(det.bands.upper_hz - det.bands.lower_hz)
        assert det.nfft >= det.step_samples
        assert narrowest / (FS / det.nfft) >= det.min_bins_per_band


def test_steps_are_aligned_to_sample_zero_and_a_partial_step_is_dropped(rng):
    det = BandEnergyDetector(step_s=5.0)
    starts, levels = det.levels(_noise(rng, 17.0))
    np.testing.assert_array_equal(starts, [0.0, 5.0, 10.0])
    assert levels.shape == (3, 31)


@pytest.mark.parametrize(
    ("freq_hz", "step_s", "band"),
    [
        (1000.0, 1.0, "tob_1000hz"),  # a mid-band tone
        (17.0, 1.0, "tob_16hz"),  # 14.1-17.8 Hz: a blue whale tone at 1 s steps
        (1000.0, 5.0, "tob_1000hz"),  # the production window
    ],
)
def test_a_tone_lights_the_band_that_holds_it(rng, fitted, freq_hz, step_s, band):
    det = fitted = fitted[step_s]
    x = _noise(rng, 10 * step_s) + _tone(freq_hz, 10 * step_s, 50.0)
    _, levels = fitted.levels(x)
    score, best = fitted.score(levels)
    assert det.bands.band_of(freq_hz) == det.bands.names.index(band)
    assert np.all(best == det.bands.names.index(band))
    excess_db = levels - fitted.reference.median_db  # (S, B); Hann leaks < 1/4 past 17.8 Hz
    assert np.all(np.argmax(excess_db, axis=1) == det.bands.names.index(band))
    assert np.all(score > 8.0)


def test_white_noise_gives_near_flat_small_z_scores(rng, fitted):
    fitted = fitted[1.0]
    z = fitted.zscores(fitted.levels(_noise(rng, 60.0))[1])  # (S, B)
    assert np.all(np.abs(np.median(z, axis=0)) < 0.5)  # no band stands out
    assert np.all(z.std(axis=0) < 1.35)  # MAD * 1.4826 ~ sigma (or the 0.5 dB floor above it)
    assert np.max(z) < 6.0


def test_offset_wander_below_5_hz_does_not_raise_the_score(rng, fitted):
    fitted = fitted[1.0]
    quiet = _noise(rng, 20.0)
    wander = quiet + _tone(0.1, 20.0, 8e4) + np.float32(3e4)  # 0.1 Hz sine plus a DC offset
    base = fitted.score(fitted.levels(quiet)[1]).score
    moved = fitted.score(fitted.levels(wander)[1]).score
    np.testing.assert_allclose(moved, base, atol=0.2)


def test_steps_with_missing_samples_score_nan_and_their_neighbours_do_not(rng, fitted):
    fitted = fitted[1.0]
    x = _noise(rng, 10.0) + _tone(0.1, 10.0, 8e4)
    x[3 * FS + 100 : 4 * FS + 50] = np.nan  # steps 3 and 4
    _, levels = fitted.levels(x)
    score, band = fitted.score(levels)
    assert np.isnan(levels[[3, 4]]).all() and np.isfinite(levels[[0, 1, 2, 5, 6]]).all()
    assert np.isnan(score[[3, 4]]).all() and (band[[3, 4]] == -1).all()
    assert np.all(score[[0, 1, 2, 5, 6, 7, 8, 9]] < 6.0)  # the bridged gap does not ring


def test_reference_rows_with_nan_are_ignored_and_the_spread_is_floored(rng):
    det = BandEnergyDetector(step_s=1.0, min_scale_db=0.5)
    levels = np.full((5, 31), 40.0)
    levels[0] = np.nan
    fitted = det.fit(levels)
    assert fitted.reference.n_steps == 4
    np.testing.assert_allclose(fitted.reference.scale_db, 0.5)
    np.testing.assert_allclose(fitted.score(levels + 1.0).score[1:], 2.0)


def test_the_detector_explains_bad_configs_and_inputs():
    with pytest.raises(EvaluationError, match="whole number of samples"):
        BandEnergyDetector(step_s=1 / 7)
    with pytest.raises(EvaluationError, match="Nyquist"):
        BandEnergyDetector(f_max_hz=12500.0)
    with pytest.raises(EvaluationError, match="not fitted"):
        BandEnergyDetector().score(np.zeros((2, 31)))
    with pytest.raises(EvaluationError, match=r"\(R, 31\)"):
        BandEnergyDetector().fit(np.zeros((4, 30)))
    with pytest.raises(EvaluationError, match="1-D"):
        BandEnergyDetector().levels(np.zeros((2, FS)))


def test_single_and_double_precision_agree(rng):
    x = _noise(rng, 5.0) + _tone(300.0, 5.0, 20.0)
    single = BandEnergyDetector(precision="single").levels(x)[1]
    double = BandEnergyDetector(precision="double").levels(x)[1]
    np.testing.assert_allclose(single, double, atol=1e-3)
