"""Headless runs of the lineage through the same Definitions and the persistent instance.

``aco pipeline`` calls :func:`run_pipeline`: it points ``DAGSTER_HOME`` at
``<data>/dagster_home`` (creating it from the project's ``dagster_home/dagster.yaml``), takes
the data folder's lock, repairs what a killed ``aco pipeline`` left behind
(:mod:`orchestration.recovery`), then runs the jobs of the code location of ``workspace.yaml``
in process, one run per contiguous range of days. The runs carry the code location's origin, so
they appear in the UI (``aco ui``: Runs, the Overview timeline) like runs launched from there.

Where: the instance is SQLite under ``<data>/dagster_home`` unless ``ACO_DAGSTER_POSTGRES_URL``
is set (then ``deploy/dagster-postgres.yaml``: run, event-log and schedule storage on Postgres);
the steps run in this process unless ``executor="dask"`` names a Dask scheduler, whose workers
then run one run per day, as many days at once as there are workers (docs/deploy.md).

Which days: the days of the archive that hold files (within ``--from/--to`` when given), plus
the days named one by one (``--day``), which run even without files. A day of the range without
files is not materialized: it gets its coverage row (288 files missing) directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aco_assets.storage.layout import ENV_ARCHIVE_ROOT, ENV_DATA_DIR, DataLayout
from orchestration.errors import AcoInputError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster_home" / "dagster.yaml"
POSTGRES_TEMPLATE = PROJECT_ROOT / "deploy" / "dagster-postgres.yaml"
ENV_DAGSTER_POSTGRES_URL = "ACO_DAGSTER_POSTGRES_URL"
ENV_DASK_SCHEDULER = "ACO_DASK_SCHEDULER"
Executor = Literal["in_process", "dask"]
ENV_FIRST_DAY = "ACO_FIRST_DAY"  # the same name as aco_assets.defs.partitions.ENV_FIRST_DAY
DEFAULT_FIRST_DAY = dt.date(2016, 1, 1)
Stage = Literal["ingest", "train", "detect", "evaluation"]
STAGES: tuple[Stage, ...] = ("ingest", "train", "detect", "evaluation")


def instance_template() -> Path:
    """The instance settings to use: Postgres when ``ACO_DAGSTER_POSTGRES_URL`` is set."""
    if os.environ.get(ENV_DAGSTER_POSTGRES_URL):
        check_postgres(os.environ[ENV_DAGSTER_POSTGRES_URL], what=ENV_DAGSTER_POSTGRES_URL)
        return POSTGRES_TEMPLATE
    return INSTANCE_TEMPLATE


def check_postgres(url: str, *, what: str) -> None:
    """One clear error when the Postgres database at ``url`` (a SQLAlchemy URL such as
    ``postgresql+psycopg2://user@host:5432/db``) cannot be reached."""
    import psycopg2
    from sqlalchemy.engine import make_url

    try:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        psycopg2.connect(dsn, connect_timeout=10).close()
    except psycopg2.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AcoInputError(
            f"postgres not reachable at {_without_password(url)} ({what}): {first}; start the "
            f"server and create the database, or unset {what} for the local SQLite default"
        ) from e


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def use_data_dir(layout: DataLayout) -> None:
    """Point this process's settings and Dagster instance at ``layout``.

    ``<data>/dagster_home/dagster.yaml`` is a copy of :func:`instance_template`; a copy of the
    other template (the setting changed) is replaced, a file edited by hand is kept.
    """
    os.environ[ENV_DATA_DIR] = str(layout.data_dir)
    os.environ[ENV_ARCHIVE_ROOT] = str(layout.archive_root)
    os.environ["DAGSTER_HOME"] = str(layout.dagster_home)
    layout.dagster_home.mkdir(parents=True, exist_ok=True)
    template = instance_template()
    config = layout.dagster_home / "dagster.yaml"
    other = POSTGRES_TEMPLATE if template == INSTANCE_TEMPLATE else INSTANCE_TEMPLATE
    stale = config.exists() and config.read_bytes() == other.read_bytes()
    if stale or not config.exists():  # written whole: a concurrent run never reads half of it
        partial = config.with_name(f".dagster.yaml.{os.getpid()}")
        shutil.copyfile(template, partial)
        os.replace(partial, config)


def contiguous_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """[(first, last)] runs of consecutive days, sorted."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dataclass(frozen=True)
class DaySelection:
    """The days to materialize, and the days of the range that only get a coverage row."""

    run: list[dt.date]
    empty: list[dt.date]


def select_days(
    archive_days: Sequence[dt.date],
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    days: Sequence[dt.date] = (),
) -> DaySelection:
    """Days of the archive that hold files, within [first_day, last_day]; plus ``days``.

    ``days`` (named one by one) run even without files. With neither a range nor ``days``:
    every archive day. With only ``days``: those days. A day of the range without files goes to
    ``empty``: it is reported in coverage, not materialized.
    """
    if first_day and last_day and first_day > last_day:
        raise AcoInputError(
            f"--from {first_day} is after --to {last_day}: give the earlier day to --from"
        )
    held = sorted(set(archive_days))
    if not (first_day or last_day):
        chosen = set(days) if days else set(held)
        return DaySelection(run=sorted(chosen), empty=[])
    lo = first_day or (held[0] if held else last_day)
    hi = last_day or (held[-1] if held else first_day)
    in_range = {d for d in held if lo <= d <= hi}
    run = sorted(in_range | set(days))
    span = [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)] if lo <= hi else []
    return DaySelection(run=run, empty=[d for d in span if d not in in_range and d not in days])


def choose_first_day(archive_days: Sequence[dt.date]) -> dt.date:
    """The first partition day: ``ACO_FIRST_DAY``, else the default or the archive's first day.

    When the setting is absent and the archive starts before the default, the archive's first
    day is exported as ``ACO_FIRST_DAY`` (before the code location loads), so its days are
    partitions. An explicit setting after a day of the archive is the user's to change.
    """
    text = os.environ.get(ENV_FIRST_DAY)
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError as e:
            raise AcoInputError(
                f"{ENV_FIRST_DAY}={text!r} is not a day: set it to YYYY-MM-DD, the first day of "
                "the archive"
            ) from e
    first = min([DEFAULT_FIRST_DAY, *archive_days])
    if first < DEFAULT_FIRST_DAY:
        os.environ[ENV_FIRST_DAY] = first.isoformat()
    return first


def check_partition_days(days: Sequence[dt.date], start: dt.date, end: dt.date) -> None:
    """One clear error for a day outside the daily partitions [start, end]."""
    early = [d for d in days if d < start]
    if early:
        raise AcoInputError(
            f"day {early[0]} is before the first daily partition {start} ({ENV_FIRST_DAY}): set "
            f"{ENV_FIRST_DAY}={early[0]} (or unset it: the partitions then start at the archive's "
            f"first day), or pass --from {start}"
        )
    late = [d for d in days if d > end]
    if late:
        raise AcoInputError(
            f"day {late[0]} is not over yet (the last daily partition is {end}, the UTC day that "
            f"just ended): pass --to {end}"
        )


@dataclass
class PipelineRun:
    days: list[dt.date]
    run_ids: list[str] = field(default_factory=list)
    model_version: int | None = None
    trained: bool = False
    empty_days: list[dt.date] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)


def say_to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_pipeline(
    layout: DataLayout,
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    days: Sequence[dt.date] = (),
    stages: Sequence[Stage] = STAGES,
    retrain: bool | None = None,
    detector_config: dict[str, Any] | None = None,
    typical_config: dict[str, Any] | None = None,
    workers: int = 2,
    executor: Executor = "in_process",
    dask_scheduler: str | None = None,
    verbose: bool = False,
    say: Callable[[str], None] = say_to_stderr,
) -> PipelineRun:
    """Materialize the lineage for the archive's days (:func:`select_days`).

    ``retrain=None`` trains only when no champion exists yet (and ``"train"`` is in ``stages``).
    ``executor="dask"`` runs the steps on the workers of the scheduler ``dask_scheduler``
    (default ``$ACO_DASK_SCHEDULER``): one run per day, as many at once as there are workers,
    each step decoding with one process (the cluster is the parallelism).
    Raises :class:`AcoInputError` for a missing archive or days outside the partitions, and
    :class:`AcoRunError` when a run fails.
    """
    from aco_assets.hydrophone import Archive

    select_days([], first_day=first_day, last_day=last_day)  # a reversed range, before the rest
    if not layout.archive_root.is_dir():
        raise AcoInputError(
            f"archive root {layout.archive_root} does not exist: pass --archive DIR (or set "
            f"{ENV_ARCHIVE_ROOT}) to a YYYY/MM/DD tree of .HYD24BBpk files, or write a synthetic "
            f"one with `aco synth --out {layout.archive_root}`"
        )
    archive_days = Archive(layout.archive_root).days()
    selection = select_days(archive_days, first_day=first_day, last_day=last_day, days=days)
    if not selection.run:
        raise AcoInputError(
            f"no day with files in {layout.archive_root} between {first_day or 'its first day'} "
            f"and {last_day or 'its last day'}: widen --from/--to, or name a day with --day"
        )
    start = choose_first_day([*archive_days, *selection.run])
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    check_partition_days(selection.run, start, yesterday)
    empty = [d for d in selection.empty if d <= yesterday]  # no coverage for days to come
    use_data_dir(layout)
    tracking = os.environ.get("MLFLOW_TRACKING_URI", "")
    if tracking.startswith("postgresql"):
        check_postgres(tracking, what="MLFLOW_TRACKING_URI")
    from orchestration.launch import Launcher

    result = PipelineRun(days=selection.run, empty_days=empty)
    remote, at_once = _execution(layout, executor, dask_scheduler)
    workers = 1 if remote else workers
    with Launcher(layout, say=say, verbose=verbose, **remote) as launcher:
        check_partition_days(selection.run, *launcher.partition_bounds())
        result.repaired = launcher.repaired
        _write_empty_coverage(layout, empty)
        _run_stages(launcher, result, selection.run, stages, retrain, workers,
                    detector_config, typical_config, at_once)  # fmt: skip
    result.model_version = _champion_version()
    return result


def _execution(
    layout: DataLayout, executor: Executor, dask_scheduler: str | None
) -> tuple[dict[str, Any], int]:
    """The launcher's ``execution`` and ``resources`` settings, and how many runs at once."""
    if executor == "in_process":
        return {}, 1
    from orchestration.executors import dask_execution, dask_workers

    address = dask_scheduler or os.environ.get(ENV_DASK_SCHEDULER)
    if not address:
        raise AcoInputError(
            f"--executor dask needs the scheduler: pass --dask-scheduler tcp://HOST:PORT (or set "
            f"{ENV_DASK_SCHEDULER})"
        )
    n_workers = dask_workers(address)
    return {"execution": dask_execution(address), "resources": _explicit_resources(layout)}, (
        n_workers
    )


def _explicit_resources(layout: DataLayout) -> dict[str, Any]:
    """The resources' settings as run config: a worker reads them from the run, not its
    environment, so one cluster serves any data folder."""
    from aco_assets.defs.resources import MlflowResource, StorageResource

    mlflow = MlflowResource(storage=StorageResource(data_dir=str(layout.data_dir)))
    mlflow_config = {
        "tracking_uri": mlflow.resolved_tracking_uri(),
        "data_dir": str(layout.data_dir),
    }
    if mlflow.resolved_artifact_location() is not None:
        mlflow_config["artifact_location"] = mlflow.resolved_artifact_location()
    storage = {
        "data_dir": str(layout.data_dir),
        "archive_root": str(layout.archive_root),
        "store_root": str(layout.store_root),
    }
    return {
        "storage": {"config": storage},
        "mlflow_resource": {"config": mlflow_config},
    }


def _run_stages(
    launcher,
    result: PipelineRun,
    days: list[dt.date],
    stages: Sequence[Stage],
    retrain: bool | None,
    workers: int,
    detector_config: dict[str, Any] | None,
    typical_config: dict[str, Any] | None,
    at_once: int = 1,
) -> None:
    ingest_config = {"ops": {"ingest": {"config": {"workers": workers}}}}
    # one run per day when several run at once (any worker takes any day), else one per range
    spans = [(d, d) for d in days] if at_once > 1 else contiguous_ranges(days)
    if "ingest" in stages:
        result.run_ids += launcher.run_many("ingest_job", ingest_config, spans, at_once=at_once)
    if "train" in stages and (retrain or (retrain is None and not _has_champion())):
        train_config = {
            "ops": {
                "detector": {"config": detector_config or {}},
                "typical_windows": {"config": typical_config or {}},
            }
        }
        result.run_ids.append(launcher.run("retrain_job", train_config))
        result.trained = True
    if "detect" in stages:
        detect_config = {"ops": {"review_clips": {"config": {"workers": workers}}}}
        result.run_ids += launcher.run_many("detect_job", detect_config, spans, at_once=at_once)
    if "evaluation" in stages:
        result.run_ids.append(launcher.run("evaluation_job"))


def _write_empty_coverage(layout: DataLayout, days: Sequence[dt.date]) -> None:
    """The coverage row of each day of the range without files (all 288 files missing)."""
    if not days:
        return
    import pyarrow as pa

    from aco_assets.hydrophone.coverage import day_coverage
    from aco_assets.storage.warehouse import Warehouse

    rows = [day_coverage(day, [], []) for day in days]
    Warehouse(layout.duckdb_path).replace_many(
        [("coverage", pa.Table.from_pylist([row]), "day = ?", [row["day"]]) for row in rows]
    )


def _has_champion() -> bool:
    return _champion_version() is not None


def _champion_version() -> int | None:
    from aco_assets.defs.resources import MlflowResource, StorageResource
    from aco_assets.storage.model_registry import (
        ModelRegistryError,
        NoChampionError,
        champion_version,
    )

    resource = MlflowResource(storage=StorageResource())
    try:
        return champion_version(resource.client(), resource.registered_model_name)
    except NoChampionError:
        return None
    except ModelRegistryError as e:  # a dangling alias: one line to fix, never "train a new one"
        raise AcoInputError(str(e)) from None
