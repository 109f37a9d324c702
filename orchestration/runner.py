"""Headless runs of the lineage through the same Definitions and the persistent instance.

``aco pipeline`` calls :func:`run_pipeline`: it points ``DAGSTER_HOME`` at
``<data>/dagster_home`` (creating it from the project's ``dagster_home/dagster.yaml``), then runs
the jobs of ``orchestration.definitions`` in process, one run per contiguous range of days, so
the runs, materializations and checks appear in the UI (``aco ui``) afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aco_assets.layout import ENV_ARCHIVE_ROOT, ENV_DATA_DIR, DataLayout

logger = logging.getLogger(__name__)

INSTANCE_TEMPLATE = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def use_data_dir(layout: DataLayout) -> None:
    """Point this process's settings and Dagster instance at ``layout``."""
    os.environ[ENV_DATA_DIR] = str(layout.data_dir)
    os.environ[ENV_ARCHIVE_ROOT] = str(layout.archive_root)
    os.environ["DAGSTER_HOME"] = str(layout.dagster_home)
    layout.dagster_home.mkdir(parents=True, exist_ok=True)
    config = layout.dagster_home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)


def contiguous_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """[(first, last)] runs of consecutive days, sorted."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dataclass
class PipelineRun:
    days: list[dt.date]
    run_ids: list[str] = field(default_factory=list)
    model_version: int | None = None
    trained: bool = False


def run_pipeline(
    layout: DataLayout,
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    retrain: bool | None = None,
    detector_config: dict[str, Any] | None = None,
    typical_config: dict[str, Any] | None = None,
    workers: int = 2,
    log_level: str = "INFO",
) -> PipelineRun:
    """Materialize the lineage for the archive's days in [first_day, last_day].

    Without a range, the days that hold files; with one, every day of it (a day without files
    becomes an empty coverage row). ``retrain=None`` trains only when no champion exists yet.
    """
    import dagster as dg

    from aco_assets.hydrophone import Archive

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from orchestration.definitions import defs

    use_data_dir(layout)
    if not layout.archive_root.is_dir():
        raise FileNotFoundError(f"archive root {layout.archive_root} does not exist")
    if first_day or last_day:
        archive_days = Archive(layout.archive_root).days()
        first = first_day or min(archive_days)
        last = last_day or max(archive_days)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        days = Archive(layout.archive_root).days()
    if not days:
        raise ValueError(
            f"no days to process in {layout.archive_root} (range {first_day}..{last_day})"
        )
    result = PipelineRun(days=days)
    ingest_config = {
        "ops": {
            "raw_files": {"config": {"workers": workers}},
            "spectrograms": {"config": {"workers": workers}},
        }
    }
    with dg.DagsterInstance.get() as instance:

        def run(
            job_name: str,
            run_config: dict | None = None,
            span: tuple[dt.date, dt.date] | None = None,
        ) -> None:
            tags = (
                {RANGE_START_TAG: span[0].isoformat(), RANGE_END_TAG: span[1].isoformat()}
                if span
                else {}
            )
            what = f"{job_name} {span[0]}..{span[1]}" if span else job_name
            logger.info("running %s", what)
            config = {
                **(run_config or {}),
                "loggers": {"console": {"config": {"log_level": log_level}}},
            }
            outcome = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, run_config=config, tags=tags, raise_on_error=True
            )
            result.run_ids.append(outcome.run_id)

        for span in contiguous_ranges(days):
            run("ingest_job", ingest_config, span)
        if retrain or (retrain is None and not _has_champion()):
            run(
                "retrain_job",
                {
                    "ops": {
                        "detector": {"config": detector_config or {}},
                        "typical_windows": {"config": typical_config or {}},
                    }
                },
            )
            result.trained = True
        for span in contiguous_ranges(days):
            run("detect_job", None, span)
        run("evaluation_job")
    result.model_version = _champion_version()
    return result


def _has_champion() -> bool:
    return _champion_version() is not None


def _champion_version() -> int | None:
    from aco_assets.model_registry import NoChampionError, champion_version
    from aco_assets.resources import MlflowResource, StorageResource

    resource = MlflowResource(storage=StorageResource())
    try:
        return champion_version(resource.client(), resource.registered_model_name)
    except NoChampionError:
        return None
