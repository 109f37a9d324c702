"""Each event class lands in its file at its stated band SNR and stands out of the background."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pytest

from aco_assets.synth import EVENT_CLASSES, PlannedEvent, band_power, render_file

SR = 24_000
N_SAMPLES = 300 * SR
START = dt.datetime(2017, 2, 10, 20)  # whale season, daytime HST
SNR_DB = 12.0

# (class, duration s); events sit at 150 s, background segments of equal length around them
DURATIONS = {
    "humpback": 15.0,
    "blue_whale": 15.0,
    "minke": 2.5,
    "sperm_whale": 20.0,
    "ship": 40.0,
    "rain": 40.0,
    "earthquake": 40.0,
    "implosion": 0.3,
    "glitch_dropout": 0.5,
    "glitch_spike": 0.002,
    "glitch_dc_step": 5.0,
}


@functools.lru_cache(maxsize=16)
def _render(label: str | None, seed: int = 11):
    plan = [] if label is None else [PlannedEvent(label, 150.0, DURATIONS[label], SNR_DB)]
    return render_file(START, N_SAMPLES, np.random.default_rng(seed), plan=plan)


def test_every_class_has_a_duration_case():
    assert set(DURATIONS) == set(EVENT_CLASSES)


@pytest.mark.parametrize("label", [c for c in EVENT_CLASSES if c != "glitch_dropout"])
def test_added_signal_has_exactly_the_stated_band_snr(label):
    background, _ = _render(None)
    samples, [event] = _render(label)
    span = slice(event.start_sample, event.start_sample + event.n_samples)
    added = samples[span].astype(float) - background[span]
    ratio = band_power(added, event.f_low_hz, event.f_high_hz) / band_power(
        background[span].astype(float), event.f_low_hz, event.f_high_hz
    )
    assert event.snr_db == SNR_DB
    # rounding to integer counts is the only difference from the drawn SNR
    assert 10 * np.log10(ratio) == pytest.approx(SNR_DB, abs=0.05)


@pytest.mark.parametrize("label", [c for c in EVENT_CLASSES if c != "glitch_dropout"])
def test_event_stands_out_of_the_nearby_background_in_its_band(label):
    samples, [event] = _render(label)
    x = samples.astype(float)
    n = event.n_samples
    seg_len = max(n, SR // 10)  # at least 0.1 s of background per reference segment
    starts = [event.start_sample - k * seg_len for k in range(1, 5)]
    starts += [event.start_sample + n + k * seg_len for k in range(4)]
    starts = [s for s in starts if 0 <= s and s + seg_len <= x.size]
    near = [band_power(x[s : s + seg_len], event.f_low_hz, event.f_high_hz) for s in starts]
    inside = band_power(
        x[event.start_sample : event.start_sample + n], event.f_low_hz, event.f_high_hz
    )
    excess_db = 10 * np.log10(inside / np.median(near))
    expected_db = 10 * np.log10(1 + 10 ** (SNR_DB / 10))
    # the wander makes the lowest bands vary from segment to segment, hence the looser bound
    tolerance = 6.0 if event.f_low_hz < 20.0 else 3.0
    assert excess_db == pytest.approx(expected_db, abs=tolerance)


def test_a_dropout_zeroes_its_span_and_reports_zero_db():
    samples, [event] = _render("glitch_dropout")
    span = samples[event.start_sample : event.start_sample + event.n_samples]
    assert event.snr_db == pytest.approx(0.0, abs=1e-9)
    assert not span.any()
    assert (
        samples[event.start_sample - 1] != 0 and samples[event.start_sample + event.n_samples] != 0
    )


def test_events_are_added_in_place_and_leave_the_rest_of_the_file_untouched():
    background, _ = _render(None)
    samples, [event] = _render("minke")
    outside = np.ones(N_SAMPLES, bool)
    outside[event.start_sample : event.start_sample + event.n_samples] = False
    np.testing.assert_array_equal(samples[outside], background[outside])
    assert samples.dtype == np.int32


def test_band_power_matches_the_mean_square_of_a_tone_in_its_band():
    t = np.arange(SR) / SR
    x = 3.0 * np.sin(2 * np.pi * 1000 * t) + 0.5 * np.sin(2 * np.pi * 50 * t)
    assert band_power(x, 900, 1100) == pytest.approx(4.5, rel=1e-3)
    assert band_power(x, 40, 60) == pytest.approx(0.125, rel=1e-3)
    assert band_power(x, 0, SR / 2) == pytest.approx(np.mean(x**2), rel=1e-9)
