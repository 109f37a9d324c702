"""Archive index, coverage and span loads across files with gaps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from aco_assets.hydrophone import (
    SAMPLES_PER_RECORD,
    Archive,
    EmptyFileError,
    FileNameError,
    archive_path_for,
    file_name_for,
    parse_file_name,
    scan_file,
    write_file,
)

N = SAMPLES_PER_RECORD
FS = 24000
DAY = datetime(2016, 2, 15)
REC_PER_FILE = 8  # short files keep the tests fast; loads place records by header time


def test_file_names_round_trip():
    t = parse_file_name("2016-02-15--05.00.HYD24BBpk")
    assert t == datetime(2016, 2, 15, 5, 0)
    assert file_name_for(t) == "2016-02-15--05.00.HYD24BBpk"
    assert archive_path_for(t) == "2016/02/15/2016-02-15--05.00.HYD24BBpk"
    assert parse_file_name("some/dir/2016-12-31--23.55.HYD24BBpk") == datetime(2016, 12, 31, 23, 55)


@pytest.mark.parametrize(
    "name",
    [
        "2016-02-15--05.00.HYD24HFpk",  # the sibling format
        "2016-02-15-05.00.HYD24BBpk",  # one dash
        "2016-02-30--05.00.HYD24BBpk",  # no such day
    ],
)
def test_bad_file_names_are_refused(name):
    with pytest.raises(FileNameError, match=name.replace(".", r"\.")):
        parse_file_name(name)


@pytest.fixture
def archive(tmp_path, rng):
    """Files at 00:00, 00:05, 00:15 (00:10 missing), each holding a ramp that encodes time."""
    values = {}
    for minute in (0, 5, 15):
        t = DAY + timedelta(minutes=minute)
        first = minute * 60 * FS
        x = (np.arange(first, first + REC_PER_FILE * N) % 30000).astype(np.int64)
        write_file(tmp_path / archive_path_for(t), x, start_utc=t)
        values[minute] = x
    (tmp_path / "2016/02/15/notes.txt").write_text("not an archive file")
    (tmp_path / "2016/02/16").mkdir(parents=True)
    (tmp_path / "2016/02/16" / file_name_for(DAY + timedelta(days=1))).write_bytes(b"")
    return Archive(tmp_path)


def test_files_days_and_time_ranges(archive):
    assert [f.nominal_start_utc.minute for f in archive.files()] == [0, 5, 15, 0]
    assert archive.days() == [date(2016, 2, 15), date(2016, 2, 16)]
    picked = archive.files(DAY + timedelta(minutes=4), DAY + timedelta(minutes=15))
    assert [f.nominal_start_utc.minute for f in picked] == [0, 5]
    assert all(f.path.exists() for f in picked)


def test_coverage_counts_missing_and_faulty(archive):
    c = archive.coverage(date(2016, 2, 15))
    assert (c.expected, c.found, c.missing, c.faulty) == (288, 3, 285, 0)
    assert DAY + timedelta(minutes=10) in c.missing_starts
    assert DAY not in c.missing_starts
    bad = archive.coverage(date(2016, 2, 16))
    assert (bad.found, bad.faulty) == (1, 1)
    assert bad.faulty_files[0].faults[0].kind == "empty_file"
    report = archive.coverage_report()
    assert report.splitlines()[1].split() == ["2016-02-15", "288", "3", "285", "0"]
    assert report.splitlines()[2].split() == ["2016-02-16", "288", "1", "287", "1"]
    assert len(archive.coverage_report(start_day=date(2016, 2, 16)).splitlines()) == 2


def test_scan_file_summarises_headers(archive):
    s = scan_file(archive.files()[1].path)
    assert s.n_records == REC_PER_FILE and s.widths == {16: REC_PER_FILE} and s.ok
    assert s.start_utc == DAY + timedelta(minutes=5) == s.nominal_start_utc
    assert s.end_utc == s.start_utc + timedelta(seconds=REC_PER_FILE * N / FS)


def expected_ramp(start: datetime, n: int) -> np.ndarray:
    first = round((start - DAY).total_seconds() * FS)
    return (np.arange(first, first + n) % 30000).astype(float)


def test_load_within_one_file_matches_the_samples(archive):
    start = DAY + timedelta(minutes=5, seconds=0.5)
    clip = archive.load(start, timedelta(seconds=0.75))
    assert clip.start_utc == start and clip.sample_rate_hz == FS and len(clip) == 18000
    np.testing.assert_array_equal(clip.samples, expected_ramp(start, 18000))
    assert clip.gaps == []


def test_load_across_files_keeps_missing_time_as_nan_and_lists_gaps(archive):
    start = DAY + timedelta(minutes=4, seconds=59)
    clip = archive.load(start, timedelta(minutes=11))
    assert len(clip) == 11 * 60 * FS
    file_span = timedelta(seconds=REC_PER_FILE * N / FS)
    ends = [DAY + timedelta(minutes=m) + file_span for m in (0, 5, 15)]
    # 00:04:59 -> 00:05:00 uncovered (file 00:00 is short), then file 00:05, then nothing
    # until 00:15 (00:10 missing), then file 00:15 until its end, then nothing.
    assert clip.gaps == [
        (start, DAY + timedelta(minutes=5)),
        (ends[1], DAY + timedelta(minutes=15)),
        (ends[2], start + timedelta(minutes=11)),
    ]
    i5 = clip.index_at(DAY + timedelta(minutes=5))
    np.testing.assert_array_equal(
        clip.samples[i5 : i5 + REC_PER_FILE * N],
        expected_ramp(DAY + timedelta(minutes=5), REC_PER_FILE * N),
    )
    i15 = clip.index_at(DAY + timedelta(minutes=15))
    assert clip.samples[i15] == expected_ramp(DAY + timedelta(minutes=15), 1)[0]
    assert np.isnan(clip.samples[i15 - 1])


def test_load_joins_adjacent_files_without_gap_despite_clock_jitter(tmp_path, rng):
    """A file ending exactly where the next begins (whose clock reads 20 us late) joins seamlessly."""
    x = rng.integers(-1000, 1000, size=2 * 4 * N)
    t1 = DAY + timedelta(hours=3, minutes=5)
    t0 = t1 - timedelta(seconds=4 * N / FS)  # the 03:00 file's last 4 records end at 03:05
    write_file(tmp_path / archive_path_for(DAY + timedelta(hours=3)), x[: 4 * N], start_utc=t0)
    late = t1 + timedelta(microseconds=20)  # within the 1 ms snap tolerance
    write_file(tmp_path / archive_path_for(t1), x[4 * N :], start_utc=late)
    clip = Archive(tmp_path).load(t0, timedelta(seconds=8 * N / FS))
    assert clip.gaps == []
    np.testing.assert_array_equal(clip.samples, x)


def test_truncated_record_in_a_span_becomes_a_gap(tmp_path, rng):
    x = rng.integers(-1000, 1000, size=2 * N)
    path = tmp_path / archive_path_for(DAY)
    write_file(path, x[: N + 100], start_utc=DAY, partial="truncate")
    clip = Archive(tmp_path).load(DAY, timedelta(seconds=2 * N / FS))
    np.testing.assert_array_equal(clip.samples[: N + 100], x[: N + 100])
    assert clip.gaps == [(clip.time_at(N + 100), clip.end_utc)]


def test_load_reports_progress(archive):
    calls = []
    archive.load(DAY, timedelta(minutes=6), progress=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 2), (2, 2)]


def test_load_refuses_a_non_positive_duration(archive):
    with pytest.raises(ValueError, match="duration must be positive"):
        archive.load(DAY, 0)


def test_load_over_an_unreadable_file_gives_nan_under_warn_and_raises_under_raise(archive):
    day2 = DAY + timedelta(days=1)  # its only file is empty
    clip = archive.load(day2, timedelta(seconds=1))
    assert np.isnan(clip.samples).all() and clip.gaps == [(day2, day2 + timedelta(seconds=1))]
    with pytest.raises(EmptyFileError, match="2016-02-16--00.00.HYD24BBpk"):
        archive.load(day2, timedelta(seconds=1), on_fault="raise")


def test_day_files_reads_only_that_days_folder_and_matches_the_full_index(tmp_path):
    from datetime import date, datetime

    import numpy as np

    from aco_assets.hydrophone import Archive, archive_path_for, write_file

    for start in (
        datetime(2016, 2, 14, 23, 55),
        datetime(2016, 2, 15, 0, 0),
        datetime(2016, 2, 15, 5, 0),
    ):
        path = tmp_path / archive_path_for(start)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, np.zeros(4096, np.int32), start_utc=start)
    (tmp_path / "2016" / "02" / "15" / "notes.txt").write_text("not a data file")
    fresh = Archive(tmp_path)
    day = fresh.day_files(date(2016, 2, 15))
    assert fresh._index is None  # no walk of the whole tree
    assert [f.nominal_start_utc.hour for f in day] == [0, 5]
    indexed = Archive(tmp_path)
    indexed.days()  # builds the full index
    assert indexed.day_files(date(2016, 2, 15)) == day
