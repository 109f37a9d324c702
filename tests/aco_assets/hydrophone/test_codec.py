"""Round trips of the HYD24BBpk codec: every width, mixed widths, both layouts, test vector."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aco_assets.hydrophone import (
    SAMPLES_PER_RECORD,
    AcoFormatError,
    minimal_bits,
    read_bytes,
    read_file,
    write_file,
)

N = SAMPLES_PER_RECORD


def full_range(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """Random values spanning the whole b-bit range, with both extremes present."""
    x = rng.integers(-(1 << (b - 1)), 1 << (b - 1), size=n, dtype=np.int64)
    x[:2] = [-(1 << (b - 1)), (1 << (b - 1)) - 1]
    return x


@pytest.mark.parametrize("b", range(1, 33))
def test_every_width_round_trips_exactly(tmp_path, rng, start, b):
    x = full_range(rng, b, 2 * N)
    path = tmp_path / "2016-02-15--05.00.HYD24BBpk"
    write_file(path, x, start_utc=start, bits=b)
    raw = read_file(path, on_fault="raise")
    assert raw.samples.dtype == np.int32
    np.testing.assert_array_equal(raw.samples, x)
    assert raw.valid.all()
    assert raw.bits.tolist() == [b, b]
    assert path.stat().st_size == 2 * (36 + 512 * b)


def test_mixed_widths_in_one_file_round_trip(tmp_path, rng, start):
    widths = np.array([16, 17, 17, 1, 32, 16, 24, 7, 16, 16, 31, 8, 25, 26, 17])
    x = np.concatenate([full_range(rng, int(b), N) for b in widths])
    path = tmp_path / "mixed.HYD24BBpk"
    write_file(path, x, start_utc=start, bits=widths)
    raw = read_file(path, on_fault="raise")
    np.testing.assert_array_equal(raw.samples, x)
    np.testing.assert_array_equal(raw.bits, widths)
    assert raw.faults == []


@pytest.mark.parametrize("odd", [17, 26])  # 26: the 64-bit loads of widths above 25
def test_widths_alternating_every_few_records_round_trip(tmp_path, rng, start, odd):
    # Archive files switch between 16 and 17-18 bits every few records: the short runs of a
    # width are decoded together, wherever they lie, the long ones in place (and a bad-width
    # record in the middle stays out).
    widths = np.repeat(rng.choice([16, odd, 18], 40), rng.choice([1, 2, 3, 5, 20], 40))  # (R,)
    x = np.concatenate([full_range(rng, int(b), N) for b in widths])
    path = tmp_path / "alternating.HYD24BBpk"
    write_file(path, x, start_utc=start, bits=widths)
    raw = read_file(path, on_fault="raise")
    np.testing.assert_array_equal(raw.samples, x)
    np.testing.assert_array_equal(raw.bits, widths)
    data = bytearray(path.read_bytes())
    at = int(np.sum(36 + 512 * widths[:7]))  # record 7's header: its width byte is the last
    data[at + 35] = 0
    bad = read_bytes(bytes(data), on_fault="skip")
    assert [f.kind for f in bad.faults] == ["bad_width"]
    keep = np.repeat(np.arange(len(widths)) != 7, N)
    np.testing.assert_array_equal(bad.samples[keep], x[keep])
    assert not bad.valid[~keep].any() and (bad.samples[~keep] == 0).all()


@pytest.mark.parametrize("layout", ["A", "B"])
def test_both_layouts_give_back_start_time_and_layout(tmp_path, rng, start, layout):
    x = rng.integers(-30000, 30000, size=5 * N)
    path = tmp_path / "2016-02-15--05.00.HYD24BBpk"
    write_file(path, x, start_utc=start, layout=layout)
    raw = read_file(path, on_fault="raise")
    assert raw.layout == layout
    assert raw.start_utc == start
    assert raw.nominal_start_utc == datetime(2016, 2, 15, 5, 0)
    assert raw.record_times_utc.dtype == np.dtype("datetime64[ns]")
    step_ns = np.diff(raw.record_times_utc).astype(np.int64)
    np.testing.assert_allclose(step_ns, N / 24000 * 1e9, atol=1000)  # us-precision headers
    first = raw.record_times_utc[0].astype("datetime64[us]").astype(datetime)
    assert abs(first - start) < timedelta(microseconds=1)
    np.testing.assert_array_equal(raw.record_counters, np.arange(5))
    assert raw.n_records == 5 and raw.duration_s == pytest.approx(5 * N / 24000)


def test_header_fields_follow_the_timing_rule(tmp_path, start):
    """Header time (tSec + timecount/1e7) + 50 us lag is the time of sample 511."""
    path = tmp_path / "a.HYD24BBpk"
    write_file(path, np.zeros(N, np.int32), start_utc=start)
    t_sec, tu_sec, timecount = struct.unpack_from("<III", path.read_bytes(), 12)
    header = datetime(1970, 1, 1) + timedelta(seconds=t_sec, microseconds=timecount / 10)
    sample_511 = start + timedelta(seconds=511 / 24000)
    assert abs(header + timedelta(microseconds=50) - sample_511) <= timedelta(microseconds=1)
    assert tu_sec * 10 >= timecount  # no minus-one-second correction applies


def test_minus_one_second_rule_applies_when_timecount_is_later(tmp_path, start):
    path = tmp_path / "a.HYD24BBpk"
    write_file(path, np.zeros(N, np.int32), start_utc=start)
    data = bytearray(path.read_bytes())
    tu_sec = struct.unpack_from("<I", data, 16)[0]
    struct.pack_into("<I", data, 16, tu_sec - 1)  # tuSec now earlier than timecount
    raw = read_bytes(bytes(data), on_fault="raise")
    assert raw.start_utc == start - timedelta(seconds=1)


def test_17_bit_test_vector_bytes(tmp_path, start):
    path = tmp_path / "v.HYD24BBpk"
    write_file(path, np.r_[1, -1, np.zeros(N - 2, np.int64)], start_utc=start, bits=17)
    assert path.read_bytes()[36:42] == bytes.fromhex("0100FEFF0300")
    data = bytearray(path.read_bytes())
    data[36:42] = bytes.fromhex("0100FEFF0300")
    assert read_bytes(bytes(data)).samples[:3].tolist() == [1, -1, 0]


def test_default_width_is_max_of_16_and_minimal(tmp_path, start):
    recs = [np.zeros(N), np.full(N, 40000), np.full(N, -70000), np.full(N, 32767)]
    x = np.concatenate(recs).astype(np.int64)
    path = tmp_path / "w.HYD24BBpk"
    write_file(path, x, start_utc=start)
    assert read_file(path).bits.tolist() == [16, 17, 18, 16]
    assert minimal_bits(x.reshape(-1, N)).tolist() == [1, 17, 18, 16]


def test_writer_refuses_a_width_too_small_for_the_values(tmp_path, start):
    with pytest.raises(AcoFormatError, match="record 1: width 16 bits"):
        write_file(
            tmp_path / "x.HYD24BBpk",
            np.r_[np.zeros(N), np.full(N, 1 << 16)].astype(int),
            start_utc=start,
            bits=16,
        )


def test_partial_last_record_is_padded_or_refused(tmp_path, start, rng):
    x = rng.integers(-100, 100, size=N + 10)
    path = tmp_path / "p.HYD24BBpk"
    write_file(path, x, start_utc=start)
    raw = read_file(path, on_fault="raise")
    np.testing.assert_array_equal(raw.samples[: x.size], x)
    assert raw.samples.size == 2 * N and not raw.samples[x.size :].any()
    with pytest.raises(AcoFormatError, match="whole number"):
        write_file(path, x, start_utc=start, partial="error")


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n_rec=st.integers(1, 4),
    layout=st.sampled_from(["A", "B"]),
    micro=st.integers(0, 10**6 - 1),
)
def test_random_data_round_trips(tmp_path_factory, data, n_rec, layout, micro):
    widths = data.draw(hnp.arrays(np.int64, n_rec, elements=st.integers(1, 32)))
    parts = [
        data.draw(
            hnp.arrays(np.int64, N, elements=st.integers(-(1 << (b - 1)), (1 << (b - 1)) - 1))
        )
        for b in widths
    ]
    x = np.concatenate(parts)
    start = datetime(2017, 3, 1, 23, 59, 59, micro)
    path = tmp_path_factory.mktemp("rt") / "r.HYD24BBpk"
    write_file(path, x, start_utc=start, layout=layout, bits=widths)
    raw = read_file(path, on_fault="raise")
    np.testing.assert_array_equal(raw.samples, x)
    np.testing.assert_array_equal(raw.bits, widths)
    assert raw.start_utc == start and raw.layout == layout
