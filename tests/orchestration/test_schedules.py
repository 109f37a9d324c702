"""The schedules' ticks, as the Definitions resolve them: the run requests the daemon launches."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.definitions import defs

nightly_schedule = defs.resolve_schedule_def("nightly")
retrain_schedule = defs.resolve_schedule_def("weekly_retrain")


def test_the_nightly_tick_requests_the_utc_day_that_just_ended():
    tick = dt.datetime(2016, 12, 2, 2, 0, tzinfo=dt.UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    (request,) = nightly_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2016-12-01"
    assert nightly_schedule.job_name == "daily_job"


def test_the_nightly_schedule_runs_at_two_utc_every_day():
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone in (None, "UTC")


def test_the_weekly_retrain_tick_requests_a_retrain_run_on_sundays():
    sunday = dt.datetime(2016, 12, 4, 4, 0, tzinfo=dt.UTC)
    context = dg.build_schedule_context(scheduled_execution_time=sunday)
    (request,) = retrain_schedule.evaluate_tick(context).run_requests
    assert retrain_schedule.job_name == "retrain_job"
    assert request.partition_key is None
    assert sunday.weekday() == 6 and retrain_schedule.cron_schedule == "0 4 * * 0"
