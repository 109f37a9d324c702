"""The one daily partitions definition shared by every per-day asset.

A partition is a UTC day. The first day is ``ACO_FIRST_DAY`` (default 2016-01-01, the start of
the synthetic demo archive); the last is the day that just ended, so the nightly schedule always
has a new partition to fill.

Every per-day asset shares one backfill policy, :data:`day_backfill_policy`: a backfill of many
days runs as one run (``single_run``, the default: one process start, right for one machine),
or, when ``ACO_DAYS_PER_RUN=N`` is set, as runs of at most N days each (``multi_run``), which a
deployment's run launcher spreads over its workers (docs/deploy.md: a 10-year backfill).

Both settings shape the assets themselves (their partition keys and backfill policy), not a
run: Dagster fixes them when the code location loads, so they are read then, by
:func:`first_day` and :func:`days_per_run`, the one place each is read (``dg.EnvVar`` resolves
resource and run config only). Changing one means reloading the code location (restarting
``aco ui`` or the code server); every other setting is a resource field read when a step runs
(:mod:`aco_assets.defs.resources`).
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

ENV_FIRST_DAY = "ACO_FIRST_DAY"
ENV_DAYS_PER_RUN = "ACO_DAYS_PER_RUN"
DEFAULT_FIRST_DAY = "2016-01-01"


def first_day() -> dt.date:
    """The first daily partition: ``ACO_FIRST_DAY``, else :data:`DEFAULT_FIRST_DAY`."""
    text = os.environ.get(ENV_FIRST_DAY) or DEFAULT_FIRST_DAY
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{ENV_FIRST_DAY}={text!r} is not a day: set it to YYYY-MM-DD, the first day of the "
            "archive, or unset it for 2016-01-01"
        ) from None


def days_per_run() -> int | None:
    """``ACO_DAYS_PER_RUN``: the most days of one backfill run; None when unset (one run)."""
    text = os.environ.get(ENV_DAYS_PER_RUN)
    if not text:
        return None
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise ValueError(
            f"{ENV_DAYS_PER_RUN}={text!r} is not a number of days: set it to a whole number >= 1 "
            "(the days of one backfill run), or unset it for one run per backfill"
        )
    return days


def _day_backfill_policy() -> dg.BackfillPolicy:
    days = days_per_run()
    if days is None:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days)


daily_partitions = dg.DailyPartitionsDefinition(start_date=first_day().isoformat(), timezone="UTC")
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
