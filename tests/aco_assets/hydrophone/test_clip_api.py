"""The clip API as a notebook uses it: ISO times, loads outside the archive, spectrogram plots."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone

import matplotlib
import numpy as np
import pytest

from aco_assets.hydrophone import (
    SAMPLES_PER_RECORD,
    Archive,
    Clip,
    NoDataWarning,
    archive_path_for,
    as_utc,
    write_file,
)

matplotlib.use("Agg")
FS = 24000
T0 = datetime(2016, 2, 15, 5, 0)


@pytest.fixture
def archive(tmp_path, rng) -> Archive:
    """One short file at 05:00 (8 records, about 1.4 s)."""
    write_file(
        tmp_path / archive_path_for(T0),
        rng.integers(-5000, 5000, 8 * SAMPLES_PER_RECORD),
        start_utc=T0,
    )
    return Archive(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2016-02-15T05:00:00", T0),  # ISO, naive = UTC
        ("2016-02-15 05:00:00.5", T0 + timedelta(seconds=0.5)),  # a space, fractions
        ("2016-02-15T05:00:00Z", T0),  # Z
        ("2016-02-14T19:00:00-10:00", T0),  # HST, converted
        (datetime(2016, 2, 15, 5, tzinfo=UTC), T0),  # aware datetime
        (datetime(2016, 2, 14, 19, tzinfo=timezone(timedelta(hours=-10))), T0),
        (np.datetime64("2016-02-15T05:00:00.000001"), T0 + timedelta(microseconds=1)),
    ],
)
def test_times_are_read_from_iso_strings_aware_datetimes_and_datetime64(value, expected):
    assert as_utc(value) == expected


def test_a_time_that_is_not_a_time_is_a_clear_error():
    with pytest.raises(ValueError, match=r"start_utc 'yesterday' is not an ISO 8601 time"):
        as_utc("yesterday", name="start_utc")
    with pytest.raises(TypeError, match=r"start_utc must be a datetime, an ISO 8601 string"):
        as_utc(1455512400, name="start_utc")


def test_an_archive_load_takes_an_iso_start_and_matches_the_datetime_load(archive):
    by_string = archive.load("2016-02-15T05:00:00.25", 0.5)
    by_datetime = archive.load(T0 + timedelta(seconds=0.25), 0.5)
    assert by_string.start_utc == by_datetime.start_utc
    np.testing.assert_array_equal(by_string.samples, by_datetime.samples)
    assert np.isfinite(by_string.samples).all()
    sliced = by_string["2016-02-15T05:00:00.5":"2016-02-15T05:00:00.6"]
    assert sliced.start_utc == T0 + timedelta(seconds=0.5) and len(sliced) == round(0.1 * FS)


def test_a_load_outside_the_archive_warns_naming_the_span(archive):
    with pytest.warns(
        NoDataWarning, match=r"no archive data in 2017-01-01 00:00:00 \.\. 2017-01-01 00:00:10"
    ):
        clip = archive.load("2017-01-01", 10.0)
    assert np.isnan(clip.samples).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoDataWarning)  # a load with data never warns
        archive.load(T0, 1.0)


def _tone_and_noise(rng, seconds: float = 4.0) -> Clip:
    t = np.arange(int(seconds * FS)) / FS
    x = rng.normal(0, 100, t.size) + 300 * np.sin(2 * np.pi * 1000 * t)
    return Clip(x, start_utc=T0, sample_rate_hz=FS)


def test_a_filtered_clip_scales_its_spectrogram_colours_to_the_passband(rng):
    spec = _tone_and_noise(rng).bandpass(500, 2000).spectrogram(nfft=1024)
    assert spec.passband_hz == (500.0, 2000.0)
    vmin, vmax = spec.color_limits()
    stopband = spec.power_db[spec.freqs_hz > 6000]
    inside = spec.power_db[(spec.freqs_hz >= 500) & (spec.freqs_hz <= 2000)]
    assert np.median(stopband) < vmin - 30  # the stopband lies far below the colour scale
    assert vmin <= np.percentile(inside, 5) and vmax >= np.percentile(inside, 99)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    spec.plot(ax=ax)
    assert ax.collections[0].get_clim() == pytest.approx((vmin, vmax))
    plt.close(fig)


def test_the_passband_narrows_with_each_filter_and_the_resampled_rate(rng):
    clip = _tone_and_noise(rng, 1.0)
    assert clip.passband_hz is None
    assert clip.highpass(50).lowpass(4000).passband_hz == (50.0, 4000.0)
    assert clip.bandpass(30, 3000).resample(4000).passband_hz == (30.0, 2000.0)
    assert clip.bandpass(30, 3000)[timedelta(0) : timedelta(seconds=0.5)].passband_hz == (
        30.0,
        3000.0,
    )


def test_a_spectrogram_plots_on_a_log_frequency_axis(rng):
    import matplotlib.pyplot as plt

    spec = _tone_and_noise(rng, 1.0).bandpass(80, 4000).spectrogram(nfft=2048)
    fig, ax = plt.subplots()
    spec.plot(ax=ax, freq_scale="log")
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[0] == pytest.approx(40.0) and ax.get_ylim()[1] == spec.freqs_hz[-1]
    with pytest.raises(ValueError, match="freq_scale must be 'linear' or 'log'"):
        spec.plot(ax=ax, freq_scale="mel")
    plt.close(fig)


def test_spectrogram_colours_leave_out_the_frames_of_a_gap(rng):
    clip = _tone_and_noise(rng)
    clip.samples[: 2 * FS] = np.nan
    spec = clip.spectrogram(nfft=1024)
    assert np.isnan(spec.power_db[:, spec.times_s < 1.9]).all()
    vmin, vmax = spec.color_limits()
    assert np.isfinite([vmin, vmax]).all() and vmin < vmax
