"""The day's coverage counts and the files_are_decodable rule, on hand-made raw_files rows."""

from __future__ import annotations

import datetime as dt

import pytest

from aco_assets.defs.ingest.raw_files import files_are_decodable
from aco_assets.hydrophone.coverage import SAMPLES_PER_FILE, day_coverage

DAY = dt.date(2016, 2, 15)
FULL = 7_200_768  # samples of a whole synthetic file (1758 records)


def _row(minute: int | None, status: str, n_samples: int = FULL, n_missing: int = 0) -> dict:
    start = None if minute is None else dt.datetime(2016, 2, 15, 0, minute)
    return {
        "path": f"2016/02/15/{minute}",
        "nominal_start": start,
        "status": status,
        "n_samples": n_samples,
        "n_missing_samples": n_missing,
    }


def _coverage(rows: list[dict]) -> dict:
    starts = [r["nominal_start"] for r in rows if r["status"] != "misfiled"]
    return day_coverage(DAY, starts, rows)


@pytest.mark.parametrize(
    ("rows", "counts", "share", "passed"),
    [
        # two clean files
        ([_row(0, "ok"), _row(5, "ok")], (2, 286, 0, 0, 0), 1.0, True),
        # a truncated record: faulty, but still decodable enough
        ([_row(0, "ok"), _row(5, "faulty", n_missing=2000)], (2, 286, 1, 0, 0), None, True),
        # one unreadable file of two: half of the day's samples are missing
        ([_row(0, "ok"), _row(5, "unreadable", 0)], (2, 286, 1, 1, 0), None, False),
        # a misfiled file (name no time): not found, not in a slot, still counted and failing
        ([_row(0, "ok"), _row(None, "misfiled")], (1, 287, 1, 0, 1), 0.5, False),
        # only a misfiled file: the day is not "no files"
        ([_row(None, "misfiled", 0)], (0, 288, 1, 0, 1), 0.0, False),
        # no files at all: nothing to decode
        ([], (0, 288, 0, 0, 0), None, True),
    ],
)
def test_coverage_counts_every_file_and_the_check_fails_on_any_file_not_read(
    rows, counts, share, passed
):
    cov = _coverage(rows)
    got = tuple(cov[k] for k in ("found", "missing", "faulty", "unreadable", "misfiled"))
    assert got == counts
    if rows and share is not None:
        assert cov["decodable_share"] == pytest.approx(share)
    check = files_are_decodable(cov, rows)
    assert check.passed is passed
    if not passed:
        assert check.metadata["files_not_read"]


def test_an_unreadable_file_weighs_as_five_minutes_of_undecoded_samples():
    cov = _coverage([_row(0, "ok"), _row(5, "ok"), _row(10, "unreadable", 0)])
    assert cov["decodable_share"] == pytest.approx(2 * FULL / (2 * FULL + SAMPLES_PER_FILE))
    assert cov["decodable_share"] < 0.7
