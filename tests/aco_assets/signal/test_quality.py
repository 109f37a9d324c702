"""Tests of aco_assets.signal.quality: injected faults are found, clean noise gives no issue."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from aco_assets.signal.quality import QualityInputError, find_quality_issues, issues_table

FS = 24000
T0 = datetime(2017, 3, 1, 4, 0, 0)
SPR = 4096


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def realistic_counts(rng: np.random.Generator, seconds: float = 10.0) -> np.ndarray:
    """Noise of ~2e4 counts peak to peak over a slow +-8e4 count offset wander, as int32."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    wander = 6e4 * np.sin(2 * np.pi * 0.12 * t + 0.3) + 2e4 * np.sin(2 * np.pi * 0.3 * t)
    return np.round(wander + rng.normal(0, 3500, n)).astype(np.int32)


def kinds(issues) -> list[str]:
    return [i.kind for i in issues]


def test_clean_noise_with_offset_wander_has_no_issue(rng):
    x = realistic_counts(rng)
    n_rec = -(-len(x) // SPR)
    times = np.datetime64(T0, "ns") + (np.arange(n_rec) * SPR / FS * 1e9).astype("timedelta64[ns]")
    assert (
        find_quality_issues(
            x,
            np.ones(len(x), bool),
            start_utc=T0,
            sample_rate_hz=FS,
            bits=np.full(n_rec, 18),
            record_times_utc=times,
        )
        == []
    )


def test_gap_is_reported_with_its_utc_span(rng):
    x = realistic_counts(rng, 2.0)
    valid = np.ones(len(x), bool)
    valid[24000:30000] = False  # 1.0 s .. 1.25 s
    (issue,) = find_quality_issues(x, valid, start_utc=T0, sample_rate_hz=FS)
    assert issue.kind == "gap" and issue.value == pytest.approx(0.25)
    assert issue.start_utc == T0 + timedelta(seconds=1.0)
    assert issue.end_utc == T0 + timedelta(seconds=1.25)


def test_nan_samples_of_a_float_clip_are_a_gap(rng):
    x = realistic_counts(rng, 2.0).astype(float)
    x[100:200] = np.nan
    assert kinds(find_quality_issues(x, start_utc=T0, sample_rate_hz=FS)) == ["gap"]


@pytest.mark.parametrize(
    ("value", "seconds", "found"),
    [
        (0, 0.2, True),  # exact zeros for 0.2 s: a dropout
        (1234, 0.15, True),  # stuck at a constant: a dropout
        (0, 0.05, False),  # shorter than min_dropout_s = 0.1 s
    ],
)
def test_dropouts_are_runs_of_one_value(rng, value, seconds, found):
    x = realistic_counts(rng, 2.0)
    n = int(seconds * FS)
    x[12000 : 12000 + n] = value
    issues = find_quality_issues(x, start_utc=T0, sample_rate_hz=FS)
    if found:
        (issue,) = [i for i in issues if i.kind == "dropout"]
        assert issue.start_utc == T0 + timedelta(seconds=0.5)
        assert issue.value == pytest.approx(seconds)
        assert ("exact zeros" in issue.detail) == (value == 0)
    else:
        assert "dropout" not in kinds(issues)


def test_clipping_at_the_record_width_extremes_is_found_once_per_burst(rng):
    x = realistic_counts(rng, 2.0)
    n_rec = -(-len(x) // SPR)
    bits = np.full(n_rec, 18, np.uint8)
    x[5 * SPR + 10 : 5 * SPR + 30 : 2] = 2**17 - 1  # 10 samples at +full scale in record 5
    x[5 * SPR + 11 : 5 * SPR + 31 : 4] = -(2**17)  # 5 at -full scale, interleaved
    issues = [
        i
        for i in find_quality_issues(x, start_utc=T0, sample_rate_hz=FS, bits=bits)
        if i.kind == "clipping"
    ]
    assert len(issues) == 1 and issues[0].value == 15
    assert issues[0].start_utc == T0 + timedelta(seconds=(5 * SPR + 10) / FS)
    # At 24-bit full scale (no per-record widths) the same samples are not clipped.
    assert "clipping" not in kinds(find_quality_issues(x, start_utc=T0, sample_rate_hz=FS))


def test_dc_step_is_found_at_its_time_and_sign(rng):
    x = realistic_counts(rng, 10.0).astype(np.int64)
    at = int(6.37 * FS)
    x[at:] -= 50_000
    issues = find_quality_issues(x, start_utc=T0, sample_rate_hz=FS)
    (step,) = issues
    assert step.kind == "dc_step" and step.value == pytest.approx(-50_000, rel=0.05)
    assert abs((step.start_utc - T0).total_seconds() - 6.37) <= 0.05


def test_timing_jumps_come_from_record_header_times():
    n_rec = 10
    offsets_s = np.arange(n_rec) * SPR / FS
    offsets_s[6:] += 0.5  # the clock jumps 0.5 s forward before record 6
    times = np.datetime64(T0, "ns") + (offsets_s * 1e9).astype("timedelta64[ns]")
    x = np.random.default_rng(1).normal(0, 3000, n_rec * SPR).astype(np.int32)
    (jump,) = find_quality_issues(x, start_utc=T0, sample_rate_hz=FS, record_times_utc=times)
    assert jump.kind == "timing_jump" and jump.value == pytest.approx(0.5, abs=1e-6)
    assert "record 6" in jump.detail and "forward" in jump.detail
    assert issues_table([jump])["kind"] == ["timing_jump"]


def test_mismatched_inputs_are_named():
    with pytest.raises(QualityInputError, match=r"valid \(3,\) and samples \(4,\)"):
        find_quality_issues(np.zeros(4), np.ones(3, bool), start_utc=T0, sample_rate_hz=FS)
    with pytest.raises(QualityInputError, match="bits has"):
        find_quality_issues(np.zeros(5000), start_utc=T0, sample_rate_hz=FS, bits=np.full(5, 16))


@pytest.mark.parametrize(
    ("freq_hz", "amplitude"),
    [
        (17.0, 3e4),  # a loud blue-whale-like tone
        (5.0, 3e4),  # an earthquake-like low-frequency oscillation
        (1.0, 2e4),  # slower still
    ],
)
def test_loud_low_frequency_sound_is_not_a_dc_step(rng, freq_hz, amplitude):
    x = realistic_counts(rng, 20.0).astype(float)
    t = np.arange(len(x)) / FS
    x += amplitude * np.exp(-0.5 * ((t - 10) / 2) ** 2) * np.sin(2 * np.pi * freq_hz * t)
    assert find_quality_issues(x, start_utc=T0, sample_rate_hz=FS) == []


def reference_dropouts(x: np.ndarray, ok: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, end) of every run of >= min_len equal valid samples, from every sample pair."""
    same = np.r_[False, (x[1:] == x[:-1]) & ok[1:] & ok[:-1], False].astype(np.int8)
    starts = np.flatnonzero(np.diff(same) == 1)  # first repeating pair
    ends = np.flatnonzero(np.diff(same) == -1) + 1  # one past the run's last sample
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]


def test_dropouts_equal_a_search_of_every_sample(rng):
    # Runs just shorter than, as long as and longer than min_dropout_s (2400 samples) that start
    # and end on, beside and across the 1024-sample blocks the search skips by, at both ends of
    # the file, across a gap and in a float file with NaN.
    n = 60 * SPR - 1000  # a partial last record
    x = realistic_counts(rng, n / FS)
    ok = np.ones(n, bool)
    runs = [(0, 2400), (10 * 1024 - 1, 2399), (20 * 1024, 2400), (30 * 1024 + 1, 2401)]
    runs += [(40 * 1024 - 1200, 2048), (50 * 1024 + 7, 9000), (70 * 1024, 30000)]
    runs += [(120 * 1024, 2400), (150 * 1024 + 5, 2398), (n - 2401, 2401)]
    for i, (a, length) in enumerate(runs):
        x[a : a + length] = (0, 1234, -5)[i % 3]
    ok[70 * 1024 + 12000 : 70 * 1024 + 12010] = False  # a gap splits the long run in two
    ok[120 * 1024 + 1000] = False  # one missing sample cuts a run below min_dropout_s
    floats = x.astype(np.float64)
    floats[150 * 1024 + 5 + 2398 : 150 * 1024 + 5 + 2500] = np.nan
    for samples, valid in ((x, ok), (floats, ok), (x, None)):
        present = (np.ones(n, bool) if valid is None else valid) & np.isfinite(samples)
        issues = find_quality_issues(samples, valid, start_utc=T0, sample_rate_hz=FS)
        found = [
            (round((i.start_utc - T0).total_seconds() * FS), round(i.value * FS))
            for i in issues
            if i.kind == "dropout"
        ]
        expected = [(a, b - a) for a, b in reference_dropouts(samples, present, 2400)]
        assert found == expected and len(found) == 7


def test_clipping_equals_a_search_of_every_sample(rng):
    n = 12 * SPR + 500  # a partial last record
    x = np.round(rng.normal(0, 3000, n)).astype(np.int32)  # within 16 bits
    bits = np.array([18, 16, 18, 24, 18, 17, 18, 18, 16, 18, 18, 18, 18])
    hits = [3, 4096 + 7, 4096 + 9, 2 * 4096 + 4095, 3 * 4096 + 1, 5 * 4096 + 2, 12 * 4096 + 499]
    for i, at in enumerate(hits):
        b = bits[at // SPR]
        x[at] = 2 ** (b - 1) - 1 if i % 2 else -(2 ** (b - 1))
    ok = np.ones(n, bool)
    ok[5 * 4096 + 2] = False  # a missing sample is never clipped
    issues = find_quality_issues(x, ok, start_utc=T0, sample_rate_hz=FS, bits=bits)
    found = [round((i.start_utc - T0).total_seconds() * FS) for i in issues if i.kind == "clipping"]
    width = np.repeat(bits, SPR)[:n]
    at_edge = ((x >= 2 ** (width - 1) - 1) | (x <= -(2 ** (width - 1)))) & ok
    idx = np.flatnonzero(at_edge)
    starts = idx[np.r_[True, np.diff(idx) > int(0.05 * FS)]]  # bursts merged within 50 ms
    assert found == starts.tolist() == [3, 4096 + 7, 2 * 4096 + 4095, 12 * 4096 + 499]
