"""Clip: time slicing, filters against scipy, resampling, spectrogram axes, WAV and plots."""

from __future__ import annotations

from datetime import datetime, timedelta

import matplotlib
import numpy as np
import pytest
import soundfile
from scipy import signal

from aco_assets.hydrophone import Clip

matplotlib.use("Agg")
FS = 24000
T0 = datetime(2016, 2, 15, 5, 0, 0, 250000)


@pytest.fixture
def noise(rng) -> Clip:
    return Clip(rng.normal(0, 1000, 2 * FS) + 8e4, start_utc=T0, sample_rate_hz=FS)


def test_slicing_by_timedelta_keeps_the_start_time(noise):
    part = noise[timedelta(seconds=0.5) : timedelta(seconds=1.25)]
    assert part.start_utc == T0 + timedelta(seconds=0.5)
    assert len(part) == 18000
    np.testing.assert_array_equal(part.samples, noise.samples[12000:30000])
    sub = part[timedelta(seconds=0.25) :]
    assert sub.start_utc == T0 + timedelta(seconds=0.75)
    np.testing.assert_array_equal(sub.samples, noise.samples[18000:30000])


def test_slicing_by_datetime_and_index(noise):
    part = noise[T0 + timedelta(seconds=1) : None]
    assert part.start_utc == T0 + timedelta(seconds=1) and len(part) == FS
    assert noise[100:200].start_utc == T0 + timedelta(seconds=100 / FS)
    assert len(noise[timedelta(seconds=-5) : timedelta(seconds=0.5)]) == FS // 2  # clamped
    assert noise[T0 - timedelta(seconds=1) : None].start_utc == T0
    with pytest.raises(TypeError, match="without step"):
        noise[::2]


def test_time_axes(noise):
    assert noise.duration == timedelta(seconds=2) and noise.end_utc == T0 + timedelta(seconds=2)
    assert noise.times[FS] == 1.0
    assert noise.times_utc[FS] == np.datetime64("2016-02-15T05:00:01.250", "ns")


@pytest.mark.parametrize(
    ("method", "args", "btype", "cutoff"),
    [
        ("highpass", (30.0,), "highpass", 30.0),  # ACOio's default cleaning
        ("lowpass", (3000.0,), "lowpass", 3000.0),
        ("bandpass", (30.0, 3000.0), "bandpass", [30.0, 3000.0]),
    ],
)
def test_filters_match_scipy_sosfiltfilt(noise, method, args, btype, cutoff):
    sos = signal.butter(6, cutoff, btype=btype, fs=FS, output="sos")
    expected = signal.sosfiltfilt(sos, noise.samples)
    out = getattr(noise, method)(*args)
    np.testing.assert_allclose(out.samples, expected, rtol=1e-10, atol=1e-6)
    assert out.start_utc == noise.start_utc


def test_filters_keep_gaps_as_nan_and_stay_finite_elsewhere(noise):
    x = noise.samples.copy()
    x[10000:12000] = np.nan
    clip = Clip(x, start_utc=T0, sample_rate_hz=FS)
    out = clip.highpass(30.0)
    assert np.isnan(out.samples[10000:12000]).all()
    assert np.isfinite(out.samples[:10000]).all() and np.isfinite(out.samples[12000:]).all()
    assert (
        out.gaps == clip.gaps == [(T0 + timedelta(seconds=10000 / FS), T0 + timedelta(seconds=0.5))]
    )
    assert abs(np.nanmean(out.samples)) < 50  # the 8e4 offset is gone


def test_resample_to_a_lower_rate(noise):
    out = noise.resample(8000)
    assert out.sample_rate_hz == 8000 and len(out) == 2 * 8000
    expected = signal.resample_poly(noise.samples, 1, 3)
    np.testing.assert_allclose(out.samples, expected)
    assert out.start_utc == noise.start_utc


def test_resample_maps_gaps(noise):
    x = noise.samples.copy()
    x[12000:24000] = np.nan  # 0.5 s to 1 s
    out = Clip(x, start_utc=T0, sample_rate_hz=FS).resample(8000)
    (gap,) = out.gaps
    assert abs((gap[0] - (T0 + timedelta(seconds=0.5))).total_seconds()) <= 2 / 8000
    assert abs((gap[1] - (T0 + timedelta(seconds=1.0))).total_seconds()) <= 2 / 8000


def test_spectrogram_axes_and_tone_frequency(rng):
    t = np.arange(3 * FS) / FS
    x = 1000 * np.sin(2 * np.pi * 375.0 * t) + rng.normal(0, 1, t.size)
    spec = Clip(x, start_utc=T0, sample_rate_hz=FS).spectrogram(nfft=2048, hop=512)
    assert spec.power_db.shape == (1025, (t.size - 2048) // 512 + 1)
    np.testing.assert_allclose(np.diff(spec.freqs_hz), FS / 2048)
    assert spec.freqs_hz[-1] == FS / 2
    np.testing.assert_allclose(np.diff(spec.times_s), 512 / FS)
    assert spec.times_s[0] == pytest.approx(1024 / FS)
    assert spec.times_utc[0] == np.datetime64(T0) + np.timedelta64(round(1024 / FS * 1e9), "ns")
    assert spec.freqs_hz[np.argmax(spec.power_db.mean(axis=1))] == 375.0


def test_spectrogram_fft_length_does_not_depend_on_clip_length(noise):
    """ACOio took the FFT length from the number of frames; here it is the argument."""
    for n in (FS // 2, 2 * FS):
        spec = noise[:n].spectrogram(nfft=1024)
        assert spec.power_db.shape[0] == 513 and spec.nfft == 1024


def test_spectrogram_locates_a_burst_in_time(rng):
    x = rng.normal(0, 1, 4 * FS)
    x[2 * FS : 2 * FS + 2400] += 500 * np.sin(2 * np.pi * 1000 * np.arange(2400) / FS)
    spec = Clip(x, start_utc=T0, sample_rate_hz=FS).spectrogram(nfft=1024, hop=256)
    loudest = spec.times_s[np.argmax(spec.power_db.max(axis=0))]
    assert 2.0 <= loudest <= 2.1


def test_wav_round_trip(tmp_path, noise):
    path = tmp_path / "clip.wav"
    scale = noise.to_wav(path)
    y, rate = soundfile.read(path, dtype="float64")
    assert rate == FS and y.size == len(noise)
    np.testing.assert_allclose(y, (noise.samples - noise.samples.mean()) * scale, atol=1 / 32768)
    assert np.abs(y).max() == pytest.approx(0.99, abs=1e-4)
    back = Clip.from_wav(path, start_utc=T0)
    assert back.sample_rate_hz == FS and back.start_utc == T0 and len(back) == len(noise)


def test_wav_writes_silence_for_missing_samples(tmp_path):
    x = np.r_[np.ones(100), np.full(100, np.nan), -np.ones(100)]
    Clip(x, start_utc=T0, sample_rate_hz=FS).to_wav(tmp_path / "g.wav")
    y, _ = soundfile.read(tmp_path / "g.wav")
    assert not y[100:200].any() and y[0] > 0.9 and y[-1] < -0.9


def test_plots_draw_on_given_axes(noise):
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2)
    assert noise.plot(ax=a) is a and len(a.lines) == 1
    assert noise.spectrogram(nfft=512).plot(ax=b) is b and b.get_ylabel() == "frequency (Hz)"
    plt.close(fig)


def test_clip_refuses_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        Clip(np.zeros((2, 2)), start_utc=T0, sample_rate_hz=FS)
    with pytest.raises(ValueError, match="shorter than nfft"):
        Clip(np.zeros(100), start_utc=T0, sample_rate_hz=FS).spectrogram(nfft=256)
