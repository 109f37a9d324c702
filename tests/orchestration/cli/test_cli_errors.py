"""Bad input gets one line naming the path, day or setting and the fix (exit 2), never a
traceback; and the pure rules behind `aco pipeline`'s choice of days and first partition."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from orchestration.errors import AcoInputError
from orchestration.runner import check_partition_days, choose_first_day, select_days
from tests.orchestration.pipeline_processes import aco, user_environment

D = dt.date


def _one_line_error(done, *needles: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_missing_archive_root_is_one_line_naming_it_and_the_fix(tmp_path):
    missing = tmp_path / "no-archive"
    done = aco("pipeline", "--archive", str(missing), "--data", str(tmp_path / "data"))
    _one_line_error(done, f"archive root {missing} does not exist", "--archive", "aco synth")


def test_from_after_to_is_one_line_naming_both_days(tmp_path):
    done = aco("pipeline", "--data", str(tmp_path), "--from", "2016-03-01", "--to", "2016-02-01")
    _one_line_error(done, "--from 2016-03-01 is after --to 2016-02-01")


def test_an_archive_day_before_aco_first_day_names_the_setting(synthetic_archive, tmp_path):
    # one file of the test archive filed under a day of 2015: only its name matters here
    archive = tmp_path / "archive"
    source = sorted(synthetic_archive.rglob("*.HYD24BBpk"))[0]
    early = archive / "2015" / "06" / "01" / "2015-06-01--05.00.HYD24BBpk"
    early.parent.mkdir(parents=True)
    shutil.copyfile(source, early)
    done = aco(
        "pipeline", "--archive", str(archive), "--data", str(tmp_path / "data"),
        env=user_environment(ACO_FIRST_DAY="2016-01-01"),
    )  # fmt: skip
    _one_line_error(done, "day 2015-06-01", "ACO_FIRST_DAY=2015-06-01", "--from 2016-01-01")


def test_a_missing_warehouse_says_to_materialize_raw_files_and_names_the_data_setting(tmp_path):
    done = aco("sql", "--data", str(tmp_path / "nowhere"), "SELECT 1")
    _one_line_error(
        done, "no warehouse at", "materialize raw_files first", "--data", "ACO_DATA_DIR"
    )


def test_repair_without_an_instance_names_the_data_setting(tmp_path):
    done = aco("repair", "--data", str(tmp_path / "nowhere"))
    _one_line_error(done, "no Dagster instance", "--data", "ACO_DATA_DIR")


@pytest.mark.parametrize(
    ("kwargs", "run", "empty"),
    [
        # no range, no day: every archive day
        ({}, [D(2016, 2, 1), D(2016, 2, 3)], []),
        # a range: its days with files; the day without files only gets coverage
        (
            {"first_day": D(2016, 2, 1), "last_day": D(2016, 2, 3)},
            [D(2016, 2, 1), D(2016, 2, 3)],
            [D(2016, 2, 2)],
        ),
        # a day named explicitly runs even without files
        (
            {"first_day": D(2016, 2, 1), "last_day": D(2016, 2, 3), "days": [D(2016, 2, 2)]},
            [D(2016, 2, 1), D(2016, 2, 2), D(2016, 2, 3)],
            [],
        ),
        # only named days
        ({"days": [D(2016, 5, 5)]}, [D(2016, 5, 5)], []),
        # an open range ends at the archive's last day
        ({"first_day": D(2016, 2, 2)}, [D(2016, 2, 3)], [D(2016, 2, 2)]),
    ],
)
def test_select_days_runs_only_days_with_files_unless_named(kwargs, run, empty):
    chosen = select_days([D(2016, 2, 1), D(2016, 2, 3)], **kwargs)
    assert (chosen.run, chosen.empty) == (run, empty)


def test_select_days_refuses_a_reversed_range():
    with pytest.raises(AcoInputError, match="--from 2016-02-03 is after --to 2016-02-01"):
        select_days([], first_day=D(2016, 2, 3), last_day=D(2016, 2, 1))


def test_the_first_partition_day_comes_from_the_archive_when_not_set(monkeypatch):
    monkeypatch.delenv("ACO_FIRST_DAY", raising=False)
    assert choose_first_day([D(2015, 6, 1), D(2015, 6, 2)]) == D(2015, 6, 1)
    import os

    assert os.environ["ACO_FIRST_DAY"] == "2015-06-01"  # exported for the code location
    monkeypatch.delenv("ACO_FIRST_DAY")
    assert choose_first_day([D(2016, 2, 1)]) == D(2016, 1, 1)  # the default stays
    assert "ACO_FIRST_DAY" not in os.environ


def test_a_set_first_partition_day_is_kept_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv("ACO_FIRST_DAY", "2016-01-01")
    assert choose_first_day([D(2015, 6, 1)]) == D(2016, 1, 1)
    monkeypatch.setenv("ACO_FIRST_DAY", "june")
    with pytest.raises(AcoInputError, match="ACO_FIRST_DAY='june' is not a day"):
        choose_first_day([])


def test_days_outside_the_partitions_are_named_with_the_fix():
    with pytest.raises(AcoInputError, match="day 2015-06-01 is before .* ACO_FIRST_DAY=2015-06-01"):
        check_partition_days([D(2015, 6, 1)], D(2016, 1, 1), D(2026, 1, 1))
    with pytest.raises(AcoInputError, match="day 2026-01-02 is not over yet.*--to 2026-01-01"):
        check_partition_days([D(2026, 1, 2)], D(2016, 1, 1), D(2026, 1, 1))


def test_same_message_key_merges_relative_and_absolute_paths_of_one_fault():
    from orchestration.cli.console import same_message_key

    relative = "2016/11/30/a.HYD24BBpk, record 3: bad_width: 0 bits"
    absolute = str(Path("/x/archive") / relative)
    expected = "a.HYD24BBpk, record 3: bad_width: 0 bits"
    assert same_message_key(relative) == same_message_key(absolute) == expected
