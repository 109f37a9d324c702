"""The per-day assets' backfill policy: one run per backfill, or runs of ACO_DAYS_PER_RUN days."""

from __future__ import annotations

import dagster as dg
import pytest

from aco_assets.defs.partitions import ENV_DAYS_PER_RUN, _day_backfill_policy


def test_a_backfill_is_one_run_unless_days_per_run_is_set(monkeypatch):
    monkeypatch.delenv(ENV_DAYS_PER_RUN, raising=False)
    assert _day_backfill_policy() == dg.BackfillPolicy.single_run()


def test_days_per_run_makes_runs_of_that_many_days(monkeypatch):
    monkeypatch.setenv(ENV_DAYS_PER_RUN, "30")
    assert _day_backfill_policy() == dg.BackfillPolicy.multi_run(max_partitions_per_run=30)


@pytest.mark.parametrize(
    "text",
    [
        "0",  # no day per run
        "-3",  # negative
        "a month",  # not a number
    ],
)
def test_a_days_per_run_that_is_not_a_positive_number_is_refused(monkeypatch, text):
    monkeypatch.setenv(ENV_DAYS_PER_RUN, text)
    with pytest.raises(ValueError, match=f"{ENV_DAYS_PER_RUN}='{text}' is not a number of days"):
        _day_backfill_policy()


def test_the_first_day_is_the_setting_else_the_default(monkeypatch):
    import datetime as dt

    from aco_assets.defs.partitions import ENV_FIRST_DAY, first_day

    monkeypatch.delenv(ENV_FIRST_DAY, raising=False)
    assert first_day() == dt.date(2016, 1, 1)
    monkeypatch.setenv(ENV_FIRST_DAY, "2015-06-01")
    assert first_day() == dt.date(2015, 6, 1)


def test_a_first_day_that_is_not_a_day_names_the_setting(monkeypatch):
    from aco_assets.defs.partitions import ENV_FIRST_DAY, first_day

    monkeypatch.setenv(ENV_FIRST_DAY, "June 2015")
    with pytest.raises(ValueError, match=f"{ENV_FIRST_DAY}='June 2015' is not a day"):
        first_day()
