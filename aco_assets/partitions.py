"""The one daily partitions definition shared by every per-day asset.

A partition is a UTC day. The first day is ``ACO_FIRST_DAY`` (read when the code location
loads, default 2016-01-01, the start of the synthetic demo archive); the last is the day that
just ended, so the nightly schedule always has a new partition to fill.
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

ENV_FIRST_DAY = "ACO_FIRST_DAY"
DEFAULT_FIRST_DAY = "2016-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(ENV_FIRST_DAY, DEFAULT_FIRST_DAY), timezone="UTC"
)


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The UTC days this run materializes (one, or a range in a single-run backfill)."""
    return [dt.date.fromisoformat(key) for key in context.partition_keys]


def progress_logger(context: dg.AssetExecutionContext, what: str):
    """A ``(done, total)`` callback that logs every tenth of the way to the run's log."""

    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            context.log.info(f"{what}: {done}/{total}")

    return report
