"""Jobs and schedules: the nightly day, retraining, and what `aco pipeline` runs."""

from __future__ import annotations

import dagster as dg

from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.detect.detections import detections
from aco_assets.defs.ingest.day_ingest import ingest
from aco_assets.defs.model.detector import detector
from aco_assets.defs.model.typical_windows import typical_windows
from aco_assets.defs.review.evaluation_report import evaluation
from aco_assets.defs.review.review_clips import review_clips

INGEST = [ingest]
TRAIN = [typical_windows, detector]
REVIEWER_VERDICTS = "reviewer_verdicts"  # an observable source asset: selected by its key
DETECT = [anomaly_scores, detections, review_clips]

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*INGEST),
    description="Index the day's files and compute its spectrogram windows.",
)
retrain_job = dg.define_asset_job(
    "retrain_job",
    # the reviewer verdicts are observed first: the selection they change is the one trained on
    selection=dg.AssetSelection.assets(REVIEWER_VERDICTS, *TRAIN),
    description="Observe the reviewer verdicts, reselect typical windows and train a new detector "
    "version (champion if it passes).",
)
detect_job = dg.define_asset_job(
    "detect_job",
    selection=dg.AssetSelection.assets(*DETECT),
    description="Score the day's windows with the champion, merge detections, render review clips.",
)
evaluation_job = dg.define_asset_job(
    "evaluation_job",
    selection=dg.AssetSelection.assets(evaluation),
    description="Measure the champion against the ground-truth catalog, baselines and reviews.",
)
daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.assets(*INGEST, *DETECT),
    description="The whole per-day lineage for one day: files to detections.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    name="nightly",
    hour_of_day=2,
    minute_of_hour=0,
    description="At 02:00 UTC, process the UTC day that just ended.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=retrain_job,
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    description="Sundays 04:00 UTC: retrain on the current typical selection.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
