"""The one ``Definitions`` of the ACO code location (``workspace.yaml`` points here)."""

from __future__ import annotations

import dagster as dg

from aco_assets.defs.detect import anomaly_scores, detections
from aco_assets.defs.ingest import day_ingest
from aco_assets.defs.model import detector, typical_windows
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.defs.review import evaluation_report, review_clips, reviewer_verdicts
from orchestration.executors import aco_executor
from orchestration.jobs import (
    daily_job,
    detect_job,
    evaluation_job,
    ingest_job,
    nightly_schedule,
    retrain_job,
    retrain_schedule,
)

# One module per lineage stage, in lineage order.
STAGES = [
    day_ingest,
    reviewer_verdicts,
    typical_windows,
    detector,
    anomaly_scores,
    detections,
    review_clips,
    evaluation_report,
]

_storage = StorageResource()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(STAGES),
    asset_checks=dg.load_asset_checks_from_modules(STAGES),
    jobs=[ingest_job, retrain_job, detect_job, evaluation_job, daily_job],
    schedules=[nightly_schedule, retrain_schedule],
    executor=aco_executor,  # in_process / multiprocess (the default) / dask, chosen by run config
    resources={
        "storage": _storage,
        "mlflow_resource": MlflowResource(storage=_storage),
    },
)
