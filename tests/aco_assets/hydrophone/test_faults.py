"""Every fault kind: a typed error under on_fault="raise", a recorded fault otherwise, no sample lost."""

from __future__ import annotations

import logging
import struct
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aco_assets.hydrophone import (
    SAMPLES_PER_RECORD,
    BadHeaderError,
    BadWidthError,
    EmptyFileError,
    NotHydFormatError,
    PartialHeaderError,
    TimeBackwardsError,
    TimeJumpError,
    TruncatedRecordError,
    read_file,
    write_file,
)

N = SAMPLES_PER_RECORD
REC16 = 36 + 512 * 16


@pytest.fixture
def good(tmp_path, rng, start):
    """A 4-record, 16-bit file and its samples."""
    x = rng.integers(-20000, 20000, size=4 * N)
    path = tmp_path / "2016-02-15--05.00.HYD24BBpk"
    write_file(path, x, start_utc=start)
    return path, x


def patch(path, offset, fmt, value):
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def test_truncated_last_record_keeps_present_samples_and_marks_the_rest(good):
    path, x = good
    data = path.read_bytes()
    path.write_bytes(data[: 3 * REC16 + 36 + 2 * 1000 + 1])  # 1000 whole samples and a byte
    with pytest.raises(TruncatedRecordError, match=r"HYD24BBpk, record 3: truncated_record"):
        read_file(path, on_fault="raise")
    raw = read_file(path, on_fault="warn")
    assert [(f.kind, f.record) for f in raw.faults] == [("truncated_record", 3)]
    assert raw.samples.size == 4 * N
    np.testing.assert_array_equal(raw.samples[: 3 * N + 1000], x[: 3 * N + 1000])
    assert raw.valid[: 3 * N + 1000].all() and not raw.valid[3 * N + 1000 :].any()
    assert not raw.samples[3 * N + 1000 :].any()


def test_truncated_odd_width_record_decodes_what_is_present(tmp_path, rng, start):
    x = rng.integers(-(1 << 16), 1 << 16, size=2 * N)
    path = tmp_path / "t.HYD24BBpk"
    write_file(path, x[: N + 777], start_utc=start, bits=17, partial="truncate")
    raw = read_file(path)
    assert raw.faults[0].kind == "truncated_record"
    np.testing.assert_array_equal(raw.samples[: N + 777], x[: N + 777])
    assert raw.valid.sum() == N + 777


def test_trailing_partial_header_is_ignored(good):
    path, x = good
    path.write_bytes(path.read_bytes() + b"\x01" * 20)
    with pytest.raises(PartialHeaderError, match="record 4: partial_header: 20 trailing bytes"):
        read_file(path, on_fault="raise")
    raw = read_file(path, on_fault="skip")
    assert [f.kind for f in raw.faults] == ["partial_header"]
    np.testing.assert_array_equal(raw.samples, x)
    assert raw.valid.all()


@pytest.mark.parametrize("width", [0, 33, 255])  # zero, just over, garbage
def test_bad_width_marks_its_record_missing_and_resynchronises(good, width):
    path, x = good
    patch(path, REC16 + 35, "B", width)
    with pytest.raises(BadWidthError, match=rf"record 1: bad_width: sample width {width} bits"):
        read_file(path, on_fault="raise")
    raw = read_file(path)
    assert [(f.kind, f.record) for f in raw.faults] == [("bad_width", 1)]
    assert raw.samples.size == 4 * N and raw.bits.tolist() == [16, width, 16, 16]
    assert not raw.valid[N : 2 * N].any() and raw.valid[:N].all() and raw.valid[2 * N :].all()
    np.testing.assert_array_equal(raw.samples[raw.valid], np.r_[x[:N], x[2 * N :]])


def test_bad_width_without_a_next_record_skips_the_rest(good):
    path, x = good
    patch(path, 3 * REC16 + 35, "B", 0)
    raw = read_file(path)
    assert "no next record found" in raw.faults[0].message
    np.testing.assert_array_equal(raw.samples[: 3 * N], x[: 3 * N])
    assert not raw.valid[3 * N :].any()


def test_time_jump_is_reported_and_samples_kept(good):
    path, x = good
    for r in (2, 3):  # records 2 and 3 five seconds late
        t_sec = struct.unpack_from("<I", path.read_bytes(), r * REC16 + 12)[0]
        patch(path, r * REC16 + 12, "<I", t_sec + 5)
    with pytest.raises(TimeJumpError, match=r"record 2: time_jump: record starts 5\.17"):
        read_file(path, on_fault="raise")
    raw = read_file(path)
    assert [(f.kind, f.record) for f in raw.faults] == [("time_jump", 2)]
    np.testing.assert_array_equal(raw.samples, x)
    gap = (raw.record_times_utc[2] - raw.record_times_utc[1]).astype(np.int64) / 1e9
    assert gap == pytest.approx(5 + N / 24000, abs=1e-5)


def test_time_going_backwards_is_reported(good):
    path, x = good
    t_sec = struct.unpack_from("<I", path.read_bytes(), 3 * REC16 + 12)[0]
    patch(path, 3 * REC16 + 12, "<I", t_sec - 2)
    with pytest.raises(TimeBackwardsError, match="record 3: time_backwards"):
        read_file(path, on_fault="raise")
    raw = read_file(path)
    assert [(f.kind, f.record) for f in raw.faults] == [("time_backwards", 3)]
    np.testing.assert_array_equal(raw.samples, x)


def test_small_clock_jitter_within_tolerance_is_not_a_fault(good):
    path, _ = good
    tu = struct.unpack_from("<I", path.read_bytes(), 2 * REC16 + 16)[0]
    patch(path, 2 * REC16 + 16, "<I", tu + 200)  # 200 us late, tolerance 1 ms
    patch(path, 2 * REC16 + 20, "<I", (tu + 200) * 10)
    assert read_file(path, on_fault="raise").faults == []


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (2 * REC16, 99, "record 2: bad_header: record counter 99 does not follow 1"),  # counter
        (REC16 + 6, 0x42, "record 1: bad_header: sync bytes"),  # layout A sync byte
    ],
)
def test_inconsistent_headers_are_reported(good, offset, value, match):
    path, x = good
    patch(path, offset, "<I" if value == 99 else "B", value)
    with pytest.raises(BadHeaderError, match=match):
        read_file(path, on_fault="raise")
    raw = read_file(path)
    assert {f.kind for f in raw.faults} == {"bad_header"}
    np.testing.assert_array_equal(raw.samples, x)


def test_layout_b_duplicate_counter_is_checked(tmp_path, start):
    path = tmp_path / "b.HYD24BBpk"
    write_file(path, np.zeros(2 * N, np.int32), start_utc=start, layout="B")
    patch(path, REC16 + 4, "<I", 7)
    with pytest.raises(BadHeaderError, match="record 1: bad_header: duplicate counter 7"):
        read_file(path, on_fault="raise")


def test_empty_file(tmp_path):
    path = tmp_path / "2016-02-15--05.05.HYD24BBpk"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="05.05.HYD24BBpk: empty_file"):
        read_file(path, on_fault="raise")
    raw = read_file(path)
    assert [f.kind for f in raw.faults] == ["empty_file"]
    assert raw.n_records == 0 and raw.samples.size == 0 and raw.start_utc is None


@pytest.mark.parametrize(
    "content",
    [
        b"This is a text file, not a hydrophone recording.\n" * 50,  # text
        bytes(range(256)) * 40,  # a byte ramp
    ],
)
def test_not_hyd_format(tmp_path, content):
    path = tmp_path / "notes.HYD24BBpk"
    path.write_bytes(content)
    with pytest.raises(NotHydFormatError, match="notes.HYD24BBpk: not_hyd_format"):
        read_file(path, on_fault="raise")
    raw = read_file(path, on_fault="skip")
    assert [f.kind for f in raw.faults] == ["not_hyd_format"] and raw.n_records == 0


def test_errors_are_value_errors_and_warn_logs(good, caplog):
    path, _ = good
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated_record"):
        read_file(path, on_fault="raise")
    with caplog.at_level(logging.WARNING):
        read_file(path, on_fault="warn")
    assert "truncated_record" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_file(path, on_fault="skip")
    assert caplog.text == ""


def test_unknown_policy_is_refused(good):
    with pytest.raises(ValueError, match="on_fault must be"):
        read_file(good[0], on_fault="ignore")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 3 * (36 + 512 * 17)), widths=st.sampled_from([(16, 17, 5), (17, 17, 17)]))
def test_a_file_cut_at_any_byte_keeps_every_whole_sample(tmp_path_factory, cut, widths):
    x = np.concatenate(
        [np.random.default_rng(b).integers(-(1 << (b - 1)), 1 << (b - 1), N) for b in widths]
    )
    path = tmp_path_factory.mktemp("cut") / "c.HYD24BBpk"
    write_file(path, x, start_utc=datetime(2016, 2, 15), bits=np.array(widths))
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    raw = read_file(path, on_fault="skip")
    assert raw.samples.size == raw.valid.size == N * raw.n_records
    got = int(raw.valid.sum())
    np.testing.assert_array_equal(raw.samples[:got], x[:got])  # a prefix, nothing invented
    assert raw.valid[:got].all()
    # every sample whose bits are all in the file is kept
    ends = np.cumsum([36 + 512 * b for b in widths])
    starts = np.r_[0, ends[:-1]]
    whole = sum(
        N if cut >= e else max(0, (cut - s - 36) * 8 // b)
        for s, e, b in zip(starts, ends, widths, strict=True)
    )
    assert got == whole
    assert (cut >= len(data)) == (raw.faults == [])
