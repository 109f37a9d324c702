"""The one daily partitions definition shared by every per-day asset.

A partition is a UTC day. The first day is ``ACO_FIRST_DAY`` (read when the code location
loads, default 2016-01-01, the start of the synthetic demo archive); the last is the day that
just ended, so the nightly schedule always has a new partition to fill.

Every per-day asset shares one backfill policy, :data:`day_backfill_policy`: a backfill of many
days runs as one run (``single_run``, the default: one process start, right for one machine),
or, when ``ACO_DAYS_PER_RUN=N`` is set where the code location loads, as runs of at most N days
each (``multi_run``), which a deployment's run launcher spreads over its workers
(docs/deploy.md: a 10-year backfill).
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

ENV_FIRST_DAY = "ACO_FIRST_DAY"
ENV_DAYS_PER_RUN = "ACO_DAYS_PER_RUN"
DEFAULT_FIRST_DAY = "2016-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(ENV_FIRST_DAY, DEFAULT_FIRST_DAY), timezone="UTC"
)


def _day_backfill_policy() -> dg.BackfillPolicy:
    text = os.environ.get(ENV_DAYS_PER_RUN)
    if not text:
        return dg.BackfillPolicy.single_run()
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise ValueError(
            f"{ENV_DAYS_PER_RUN}={text!r} is not a number of days: set it to a whole number >= 1 "
            "(the days of one backfill run), or unset it for one run per backfill"
        )
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days)


day_backfill_policy = _day_backfill_policy()


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The UTC days this run materializes (one, or a range in a single-run backfill)."""
    return [dt.date.fromisoformat(key) for key in context.partition_keys]


def progress_logger(context: dg.AssetExecutionContext, what: str):
    """A ``(done, total)`` callback that logs every tenth of the way to the run's log."""

    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            context.log.info(f"{what}: {done}/{total}")

    return report
