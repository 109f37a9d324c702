"""Tests of the spectrogram front end (aco_assets/signal/features.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.fft
import scipy.signal

from aco_assets.signal.features import (
    FrontEnd,
    FrontEndConfig,
    FrontEndConfigError,
    FrontEndInputError,
    band_label,
)

FS = 24000
WINDOW = 5 * FS  # samples per analysis window


@pytest.fixture(scope="module")
def front_end() -> FrontEnd:
    """The production bands and frames, absolute levels: what a tone or a level should give."""
    return FrontEnd(FrontEndConfig(normalise="none"))


def test_the_default_front_end_is_the_production_one():
    assert FrontEndConfig().normalise == "file_median"
    assert FrontEndConfig().window_s == 5.0


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20160215)


def tone(f_hz: float, n: int, amplitude: float = 1000.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * f_hz * np.arange(n) / FS)


def band_of(fe: FrontEnd, f_hz: float) -> int:
    return int(np.searchsorted(fe.band_edges_hz, f_hz, side="right") - 1)


def loudest_band(fe: FrontEnd, x: np.ndarray) -> int:
    feats = fe.windows(x).features  # (N, 1, F, T)
    return int(feats.mean(axis=(0, 1, 3)).argmax())


def test_band_edges_are_increasing_and_cover_f_min_to_f_max(front_end):
    edges = front_end.band_edges_hz
    cfg = front_end.config
    assert edges.shape == (cfg.n_bands + 1,)
    assert np.all(np.diff(edges) > 0)
    assert edges[0] == pytest.approx(cfg.f_min_hz)
    assert edges[-1] == pytest.approx(cfg.f_max_hz)
    centers = front_end.band_centers_hz
    assert np.all((centers > edges[:-1]) & (centers < edges[1:]))


def test_frame_offsets_tile_the_window(front_end):
    cfg = front_end.config
    offsets = front_end.frame_offsets_s
    assert offsets.shape == (cfg.n_frames,)
    assert offsets[0] == 0.0
    np.testing.assert_allclose(np.diff(offsets), cfg.window_s / cfg.n_frames)
    assert offsets[-1] + front_end.frame_s == pytest.approx(cfg.window_s)
    assert front_end.feature_shape == (1, cfg.n_bands, cfg.n_frames)


@pytest.mark.parametrize(
    ("n_samples", "n_windows"),
    [
        (7_200_000, 60),  # a full 5-minute file
        (7_200_000 - 1000, 59),  # a truncated file: the partial last window is dropped
        (3 * WINDOW + WINDOW // 2, 3),  # three and a half windows
        (WINDOW - 1, 0),  # shorter than one window: nothing
    ],
)
def test_window_count_and_offsets(front_end, rng, n_samples, n_windows):
    out = front_end.windows(rng.standard_normal(n_samples) * 100)
    assert out.n_windows == n_windows
    assert out.features.shape == (n_windows, *front_end.feature_shape)
    assert out.features.dtype == np.float32
    np.testing.assert_allclose(out.offsets_s, np.arange(n_windows) * 5.0)
    assert out.valid.shape == out.missing_share.shape == (n_windows,)
    assert all(v.shape == (n_windows,) for v in out.levels.values())


def test_blue_whale_tones_land_in_different_low_bands(front_end, rng):
    noise = rng.standard_normal(4 * WINDOW) * 10
    band_a = loudest_band(front_end, tone(16.5, 4 * WINDOW) + noise)
    band_b = loudest_band(front_end, tone(18.5, 4 * WINDOW) + noise)
    assert band_a != band_b
    assert band_a == band_of(front_end, 16.5)
    assert band_b == band_of(front_end, 18.5)
    assert band_a < front_end.n_low_bands and band_b < front_end.n_low_bands


@pytest.mark.parametrize("f_hz", [1000.0, 150.0, 4000.0])  # main path, low path, high end
def test_a_tone_lands_in_the_band_holding_its_frequency(front_end, rng, f_hz):
    x = tone(f_hz, 2 * WINDOW) + rng.standard_normal(2 * WINDOW) * 10
    assert loudest_band(front_end, x) == band_of(front_end, f_hz)


def test_offset_wander_does_not_leak_into_the_bands(front_end, rng):
    n = 12 * WINDOW
    noise = rng.standard_normal(n) * 3000
    t = np.arange(n) / FS
    wander = 8e4 * np.sin(2 * np.pi * 0.1 * t + 0.3) + 2e4 * np.sin(2 * np.pi * 0.37 * t)
    base = front_end.windows(noise)
    moved = front_end.windows(noise + wander)
    for name in ("low_10_100", "mid_100_1000", "broadband_10_10000"):
        assert np.max(np.abs(moved.levels[name] - base.levels[name])) < 1.0, name
    # every band of every window, the first and last included
    assert np.max(np.abs(moved.features - base.features)) < 1.0


def test_missing_runs_give_missing_share_invalid_windows_and_finite_features(front_end, rng):
    x = rng.standard_normal(4 * WINDOW) * 3000 + 5e4
    x[WINDOW + 100 : WINDOW + 100 + 4096] = np.nan  # one lost record: 3.4 % of window 1
    x[2 * WINDOW : 2 * WINDOW + WINDOW // 2] = np.nan  # half of window 2
    x[-10:] = np.inf  # a corrupt tail in window 3
    out = front_end.windows(x)
    np.testing.assert_allclose(out.missing_share, [0.0, 4096 / WINDOW, 0.5, 10 / WINDOW])
    np.testing.assert_array_equal(out.valid, [True, True, False, True])
    assert np.isfinite(out.features).all()
    assert all(np.isfinite(v).all() for v in out.levels.values())
    # the gap is bridged, not zero-filled: no broadband splatter from the 5e4 step
    assert out.levels["high_1000_10000"][1] < out.levels["high_1000_10000"][0] + 0.5


def test_all_missing_and_silent_input_floor_at_floor_db(front_end):
    out = front_end.windows(np.full(2 * WINDOW, np.nan))
    assert np.isfinite(out.features).all()
    assert not out.valid.any()
    np.testing.assert_allclose(out.features, front_end.config.floor_db, atol=1e-4)


def test_white_noise_gives_a_flat_per_hz_level(front_end, rng):
    sigma = 3000.0
    out = front_end.windows(rng.standard_normal(24 * WINDOW) * sigma)
    expected_db = 10 * np.log10(2 * sigma**2 / FS)  # one-sided PSD, counts^2/Hz
    power = 10 ** (out.features.astype(np.float64) / 10)
    per_band_db = 10 * np.log10(power.mean(axis=(0, 1, 3)))  # (F,)
    np.testing.assert_allclose(per_band_db, expected_db, atol=0.5)
    # band levels are the mean square of the band-passed signal
    expected_broadband = 10 * np.log10(sigma**2 * (10000 - 10) / (FS / 2))
    np.testing.assert_allclose(out.levels["broadband_10_10000"], expected_broadband, atol=0.2)


def test_integer_counts_are_accepted_like_floats(front_end, rng):
    x = np.round(rng.standard_normal(WINDOW) * 3000).astype(np.int32)
    np.testing.assert_allclose(
        front_end.windows(x).features, front_end.windows(x.astype(np.float64)).features
    )


def test_results_do_not_depend_on_the_chunk_size(front_end, rng):
    x = rng.standard_normal(5 * WINDOW) * 3000
    a = front_end.windows(x, chunk_windows=1).features
    b = front_end.windows(x, chunk_windows=8).features
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_config_round_trips_through_a_dict_and_json():
    cfg = FrontEndConfig(n_bands=48, window_s=10.0, max_missing_share=0.2)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert FrontEndConfig.from_dict(data) == cfg
    assert FrontEndConfig.from_dict({}) == FrontEndConfig()


def test_unknown_config_keys_are_rejected():
    with pytest.raises(FrontEndConfigError, match="unknown FrontEndConfig keys.*'nbands'"):
        FrontEndConfig.from_dict({"nbands": 12})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_bands": 400}, "holds no frequency bin"),  # bands narrower than 1 Hz bins
        ({"f_max_hz": 20000.0}, "f_max_hz"),  # above Nyquist
        ({"window_s": 5.00001}, "whole number of samples"),
        ({"low_split_hz": 240.0}, "low_split_hz"),  # beyond the low path's passband
    ],
)
def test_impossible_configs_raise_a_clear_error(kwargs, message):
    with pytest.raises(FrontEndConfigError, match=message):
        FrontEnd(FrontEndConfig(**kwargs))


def test_other_configs_give_their_own_shapes(rng):
    fe = FrontEnd(FrontEndConfig(n_bands=40, n_frames=16, window_s=2.0, low_split_hz=100.0))
    out = fe.windows(rng.standard_normal(3 * 2 * FS))
    assert out.features.shape == (3, 1, 40, 16)
    assert np.isfinite(out.features).all()


def test_non_1d_samples_are_rejected(front_end):
    with pytest.raises(FrontEndInputError, match=r"1-D real array, got shape \(2, 5\)"):
        front_end.windows(np.zeros((2, 5)))


def test_dominant_band_is_where_the_excess_is(front_end, rng):
    background = rng.standard_normal(2 * WINDOW) * 300
    ref = np.median(front_end.windows(background).features, axis=0)  # (1, F, T)
    feats = front_end.windows(background + tone(1000.0, 2 * WINDOW, 3000.0)).features
    bands = front_end.dominant_bands(feats - ref)
    assert bands.shape == (2, 2)
    assert np.all((bands[:, 0] <= 1000.0) & (1000.0 < bands[:, 1]))
    assert front_end.level_band_of(*bands[0]) == "mid_100_1000"
    with pytest.raises(FrontEndInputError, match="deviation_db must have shape"):
        front_end.dominant_bands(np.zeros((2, 3, 4)))


def test_band_labels_read_well():
    assert band_label(15.4, 17.15) == "15.4-17.1 Hz"
    assert band_label(1122.0, 1250.0) == "1.12-1.25 kHz"


def test_gaps_are_bridged_by_lines_between_their_valid_neighbours():
    from aco_assets.signal.sample_gaps import bridge_gaps

    x = np.array([np.nan, 5.0, 1.0, np.nan, np.nan, np.nan, 9.0, 2.0, np.nan], np.float32)
    bridge_gaps(x, np.isnan(x))
    np.testing.assert_allclose(x, [5.0, 5.0, 1.0, 3.0, 5.0, 7.0, 9.0, 2.0, 2.0])


def test_file_median_normalisation_removes_the_background_and_keeps_a_transient():
    rng = np.random.default_rng(3)
    fs = 24000
    x = rng.normal(0.0, 3000.0, fs * 60)
    t = np.arange(fs) / fs
    x[fs * 30 : fs * 31] += 20000.0 * np.sin(2 * np.pi * 300.0 * t)  # a 1 s, 300 Hz unit
    louder = x * 4.0  # the same scene 12 dB louder (gain drift, season)
    absolute = FrontEnd(FrontEndConfig(normalise="none")).windows(x)
    rel = FrontEnd(FrontEndConfig(normalise="file_median"))
    a, b = rel.windows(x), rel.windows(louder)
    # every band's median over the file is 0 dB, and a pure gain change disappears
    assert np.allclose(np.median(a.features[:, 0], axis=(0, 2)), 0.0, atol=1e-4)
    assert np.allclose(a.features, b.features, atol=1e-3)
    # the unit stands out in its window (window 6 holds 30-35 s) by tens of dB
    band = int(np.searchsorted(rel.band_edges_hz, 300.0) - 1)
    assert a.features[6, 0, band].max() > 20.0
    assert np.abs(np.delete(a.features[:, 0, band], 6, axis=0)).max() < 10.0
    # levels stay absolute
    assert np.allclose(a.levels["mid_100_1000"], absolute.levels["mid_100_1000"])


def test_two_channels_hold_the_equalised_and_the_absolute_features():
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 3000.0, 24000 * 30)
    both = FrontEnd(FrontEndConfig(normalise="file_median_and_absolute"))
    out = both.windows(x)
    assert both.feature_shape == (2, 64, 32) and out.features.shape[1:] == (2, 64, 32)
    rel = FrontEnd(FrontEndConfig(normalise="file_median")).windows(x)
    absolute = FrontEnd(FrontEndConfig(normalise="none")).windows(x)
    np.testing.assert_allclose(out.features[:, :1], rel.features, atol=1e-5)
    np.testing.assert_allclose(out.features[:, 1:], absolute.features, atol=1e-5)
    # a level change that lasts the whole file shows in the absolute channel only
    louder = both.windows(x * 4.0).features
    assert np.allclose(louder[:, 0], out.features[:, 0], atol=1e-3)
    assert np.allclose(louder[:, 1] - out.features[:, 1], 20 * np.log10(4.0), atol=0.05)


def test_an_unknown_normalisation_is_refused():
    with pytest.raises(FrontEndConfigError, match="normalise"):
        FrontEnd(FrontEndConfig(normalise="loudness"))


def reference_band_power(fe: FrontEnd, x: np.ndarray) -> np.ndarray:
    """Band PSDs (N, F, T) float64 of the front end's algorithm, every step in float64.

    The slow, direct form of the front end of docs/model.md, written from the config alone: bridge gaps
    (np.interp), triangular block filter, ``resample_poly(..., padtype="line")``, high-pass,
    Hann frames of |rfft|^2 averaged over the bins of each band and the frames of each T frame;
    the low path's 1 s frames interpolated onto the T frame centres.
    """
    cfg = fe.config
    w, n = fe.window_samples, len(x) // fe.window_samples
    x = np.asarray(x[: n * w], np.float64).copy()
    bad = ~np.isfinite(x)
    x[bad] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), x[~bad])
    edges, nl, t_frame = fe.band_edges_hz, fe.n_low_bands, w / cfg.n_frames
    t_centres = (np.arange(cfg.n_frames) + 0.5) * t_frame / cfg.sample_rate_hz  # (T,) s

    def psd(z, nfft, hop, fs, band_edges):  # (N, M, F_part) and the frame centres (M,), s
        m = (len(z) // n - nfft) // hop + 1
        starts = np.arange(n)[:, None] * (len(z) // n) + np.arange(m)[None, :] * hop  # (N, M)
        hann = scipy.signal.get_window("hann", nfft)
        p = np.abs(scipy.fft.rfft(z[starts[..., None] + np.arange(nfft)] * hann)) ** 2
        p *= 2.0 / (fs * np.sum(hann**2))
        k = np.searchsorted(scipy.fft.rfftfreq(nfft, 1.0 / fs), band_edges)
        bands = [p[..., a:b].mean(axis=-1) for a, b in zip(k[:-1], k[1:], strict=True)]
        return np.stack(bands, axis=-1), (np.arange(m) * hop + nfft / 2) / fs

    tri = np.convolve(np.ones(cfg.low_block), np.ones(cfg.low_block))
    blocks = np.concatenate([x, x[-cfg.low_block :]])  # the last block is extended by itself
    y = np.convolve(blocks, tri[::-1] / tri.sum(), "valid")[: len(x) : cfg.low_block]
    z = scipy.signal.resample_poly(y, 1, cfg.low_down, padtype="line")
    sos = scipy.signal.butter(4, cfg.highpass_hz, "highpass", fs=fe.low_rate_hz, output="sos")
    z = scipy.signal.sosfilt(sos, z, zi=scipy.signal.sosfilt_zi(sos) * z[0])[0]
    low, low_t = psd(z, cfg.low_nfft, cfg.low_hop, fe.low_rate_hz, edges[: nl + 1])
    main, main_t = psd(x, cfg.nfft, cfg.hop_samples, cfg.sample_rate_hz, edges[nl:])
    group = np.minimum((main_t * cfg.sample_rate_hz // t_frame).astype(int), cfg.n_frames - 1)
    out = np.empty((n, cfg.n_bands, cfg.n_frames))  # (N, F, T)
    for i in range(n):
        for f in range(nl):
            out[i, f] = np.interp(t_centres, low_t, low[i, :, f])
        out[i, nl:] = np.stack([main[i, group == t].mean(axis=0) for t in range(cfg.n_frames)]).T
    return out


@pytest.mark.parametrize(
    "config",
    [
        FrontEndConfig(normalise="none"),  # production bands and frames, absolute levels
        FrontEndConfig(n_bands=40, n_frames=16, window_s=2.0, low_split_hz=100.0, normalise="none"),
        FrontEndConfig(low_block=4, low_down=12, normalise="none"),  # another decimation
    ],
)
def test_features_equal_a_float64_reference_of_the_algorithm(config):
    # Noise of 3000 counts over the +-8e4 offset wander, a whale-like tone, a ship-like one and a
    # short gap (one shorter than a T frame: a frame of bridged samples only holds almost no
    # power, and there the float32 input's rounding, alike in every version, dominates).
    rng = np.random.default_rng(20170301)
    fe = FrontEnd(config)
    n = 6 * fe.window_samples
    t = np.arange(n) / FS
    x = rng.standard_normal(n) * 3000 + 8e4 * np.sin(2 * np.pi * 0.1 * t)
    x += 800 * np.sin(2 * np.pi * 16.5 * t) + 400 * np.sin(2 * np.pi * 300.0 * t)
    x[n // 3 + 5000 : n // 3 + 6000] = np.nan
    expected_db = 10 * np.log10(np.maximum(reference_band_power(fe, x), 1e-6))
    out = fe.windows(x)
    # float32 rounding only: the code before the speed-up (low path rounded in float32) was
    # within 1.2e-3 dB of this reference here, the current one is within 1e-4 dB
    np.testing.assert_allclose(out.features[:, 0], expected_db, rtol=0, atol=5e-4)
    weights = fe._level_weights  # (L, F) Hz
    band_db = 10 * np.log10(reference_band_power(fe, x).mean(axis=2) @ weights.T)  # (N, L)
    for j, name in enumerate(fe._level_names):
        np.testing.assert_allclose(out.levels[name], band_db[:, j], rtol=0, atol=1e-4)


def test_a_valid_mask_marks_missing_samples_like_nan(front_end, rng):
    counts = np.round(rng.standard_normal(3 * WINDOW) * 3000 + 5e4).astype(np.int32)
    valid = np.ones(counts.size, bool)
    valid[WINDOW + 50 : WINDOW + 50 + 4096] = False
    with_nan = counts.astype(np.float64)
    with_nan[~valid] = np.nan
    a, b = front_end.windows(counts, valid=valid), front_end.windows(with_nan)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.missing_share, b.missing_share)
    assert a.missing_share[1] == 4096 / WINDOW
    with pytest.raises(FrontEndInputError, match="valid must have the shape"):
        front_end.windows(counts, valid=valid[:-1])


def test_results_do_not_depend_on_fft_threads(front_end, rng):
    x = rng.standard_normal(3 * WINDOW) * 3000
    np.testing.assert_allclose(
        front_end.windows(x, workers=2).features, front_end.windows(x).features, atol=1e-5
    )


@pytest.mark.parametrize("mode", ["file_median", "file_median_and_absolute"])
def test_an_equalised_stretch_shorter_than_a_window_gives_no_window(mode):
    fe = FrontEnd(FrontEndConfig(normalise=mode))
    out = fe.windows(np.ones(WINDOW - 1))
    assert out.features.shape == (0, *fe.feature_shape)
