"""Misfiled entries of day folders: listed with a reason under a day, never silently dropped."""

from __future__ import annotations

import logging
from datetime import date, datetime

import numpy as np
import pytest

from aco_assets.hydrophone import Archive, archive_path_for, write_file
from aco_assets.hydrophone.listing import folder_day

GOOD = datetime(2016, 2, 15, 5, 0)

# (entry relative to the archive root, day it is reported under, kind, words of the reason)
MISFILED = [
    # an hour that does not exist, in the right folder
    ("2016/02/15/2016-02-15--25.00.HYD24BBpk", date(2016, 2, 15), "bad_name", "hour must be"),
    # a day that does not exist, in the folder of the last day of the month
    ("2016/02/29/2016-02-30--00.00.HYD24BBpk", date(2016, 2, 29), "bad_name", "out of range"),
    # the same name in an impossible folder: the nearest valid day
    ("2016/02/30/2016-02-30--00.05.HYD24BBpk", date(2016, 2, 29), "bad_name", "out of range"),
    # a name that is no time at all
    ("2016/02/15/notes.HYD24BBpk", date(2016, 2, 15), "bad_name", "does not follow"),
    # a valid time of another day
    ("2016/02/15/2016-02-16--00.00.HYD24BBpk", date(2016, 2, 15), "wrong_folder", "2016/02/16/"),
    # a valid name in an impossible month folder
    ("2016/13/01/2016-12-01--00.00.HYD24BBpk", date(2016, 12, 1), "wrong_folder", "2016/12/01/"),
    # a valid name in a day-00 folder
    ("2016/03/00/2016-03-01--00.00.HYD24BBpk", date(2016, 3, 1), "wrong_folder", "2016/03/01/"),
]


@pytest.fixture
def archive(tmp_path):
    write_file(tmp_path / archive_path_for(GOOD), np.zeros(4096, np.int64), start_utc=GOOD)
    for rel, *_ in MISFILED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"\x00" * 100)
    (tmp_path / "2016/02/15/README.txt").write_text("not a data file, not listed")
    return tmp_path


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        (("2016", "02", "15"), (date(2016, 2, 15), True)),  # a real day
        (("2016", "02", "30"), (date(2016, 2, 29), False)),  # past the month's end (leap year)
        (("2015", "02", "29"), (date(2015, 2, 28), False)),  # no leap day in 2015
        (("2016", "00", "00"), (date(2016, 1, 1), False)),  # zeros clamp up
        (("2016", "13", "40"), (date(2016, 12, 31), False)),  # month and day clamp down
    ],
)
def test_a_folder_name_stands_for_its_day_or_the_nearest_valid_day(folder, expected):
    assert folder_day(*folder) == expected


def test_every_misfiled_entry_is_listed_under_its_day_with_a_warning_naming_it(archive, caplog):
    with caplog.at_level(logging.WARNING, logger="aco_assets.hydrophone.listing"):
        listed = Archive(archive).misfiled()
    got = {m.path.relative_to(archive).as_posix(): m for m in listed}
    assert sorted(got) == sorted(rel for rel, *_ in MISFILED)
    for rel, day, kind, words in MISFILED:
        m = got[rel]
        assert (m.day, m.kind) == (day, kind), rel
        assert m.reason.startswith(rel) and words in m.reason and "not read" in m.reason
        assert any(r.levelno == logging.WARNING and rel in r.getMessage() for r in caplog.records)
    assert str(archive) not in " ".join(m.reason for m in listed)  # paths relative to the root


def test_a_day_lists_the_same_files_and_misfiled_entries_alone_as_from_the_full_index(archive):
    indexed = Archive(archive)
    days = indexed.days()
    assert days == sorted({GOOD.date()} | {day for _, day, *_ in MISFILED})
    for day in days:
        fresh = Archive(archive)
        assert fresh.day_files(day) == indexed.day_files(day), day
        assert fresh.misfiled(day) == indexed.misfiled(day), day
        assert fresh._index is None  # the day alone, no walk of the tree
    assert [f.nominal_start_utc for f in indexed.files()] == [GOOD]  # misfiled: never read


def test_coverage_counts_misfiled_entries_apart_from_the_files_found(archive):
    cov = Archive(archive).coverage(date(2016, 2, 15), check_headers=False)
    assert (cov.found, cov.missing, len(cov.misfiled)) == (1, 287, 3)
    report = Archive(archive).coverage_report(check_headers=False)
    assert f"{len(MISFILED)} misfiled" in report
    assert "2016/02/15/2016-02-16--00.00.HYD24BBpk: the name says 2016-02-16" in report
