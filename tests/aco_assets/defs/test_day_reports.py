"""A multi-day run of a per-day asset reports each day on its own: metadata, pictures, checks.

Issue 14: after a single-run backfill every partition page showed the whole range's figures.
These tests run real ranges (one run, three days, the first without files) on a real instance
and read the materializations and check evaluations back from its event log.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.detect.detections import detections
from aco_assets.defs.ingest.day_ingest import ingest
from aco_assets.defs.review.review_clips import review_clips
from aco_assets.hydrophone.coverage import day_coverage
from aco_assets.reporting.figures import INLINE_MARKDOWN_MAX
from tests.conftest import lineage_resources

RANGE_TAGS = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _range_run(
    assets, resources, instance, first: dt.date, last: dt.date, run_config=None, selection=None
):
    return dg.materialize(
        assets,
        selection=selection,
        resources=resources,
        instance=instance,
        run_config=run_config or {},
        tags={RANGE_TAGS[0]: first.isoformat(), RANGE_TAGS[1]: last.isoformat()},
    )


def _latest_by_day(instance, asset: str) -> dict[str, dict]:
    """The latest materialization of each partition of ``asset``, from the instance's event log."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    latest: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        event = record.asset_materialization
        latest[event.partition] = {k: v.value for k, v in event.metadata.items()}
    return latest


@pytest.fixture(scope="module")
def three_days(lineage) -> tuple[dt.date, dt.date]:
    """The archive's two days and the day before them (no files), as one range."""
    return min(lineage.days) - dt.timedelta(days=1), max(lineage.days)


def test_a_three_day_run_of_raw_files_gives_each_day_its_own_counts(
    synthetic_archive, lineage, three_days, tmp_path
):
    first, last = three_days
    workers = {"config": {"workers": 1}}
    with dg.instance_for_test() as instance:
        result = _range_run(
            [ingest],
            lineage_resources(synthetic_archive, tmp_path),
            instance,
            first,
            last,
            {"ops": {"ingest": workers}},
            selection=["raw_files"],
        )
        by_day = _latest_by_day(instance, "raw_files")
        checks = {e.partition: e for e in result.get_asset_check_evaluations()}
    coverage = {
        r["day"].isoformat(): r
        for r in lineage.warehouse().query("SELECT * FROM coverage").to_pylist()
    }
    keys = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    assert sorted(by_day) == keys  # one materialization per day of the run
    assert by_day[keys[0]]["files_found"] == 0 and by_day[keys[0]]["files_missing"] == 288
    assert "no files" in by_day[keys[0]]["summary"]
    for key in keys[1:]:
        assert by_day[key]["files_found"] == coverage[key]["found"] > 0
        assert by_day[key]["files_missing"] == coverage[key]["missing"]
        assert by_day[key]["summary"].startswith(key)
        assert len(by_day[key]["files"]) <= INLINE_MARKDOWN_MAX  # drawn inline, not in a pop-up
    assert sorted(checks) == keys  # one check result per day, each naming its day
    assert all(checks[k].description.startswith(k) for k in keys)


def test_a_range_run_of_the_detection_stages_reports_each_days_own_windows(lineage, three_days):
    first, last = three_days
    # the day without files has its coverage row, as `aco pipeline` writes it: spectrograms
    # reads each day's file list from raw_files and refuses a day raw_files never saw
    # (written here, removed again: the lineage fixture is shared with tests/orchestration)
    coverage = pa.Table.from_pylist([day_coverage(first, [], [])])
    lineage.warehouse().replace_rows("coverage", coverage, where="day = ?", params=[first])
    try:
        result = _range_run(
            [ingest, anomaly_scores, detections, review_clips],
            lineage.resources,
            lineage.instance,
            first,
            last,
            {"ops": {"ingest": {"config": {"workers": 1}}}},
            selection=["spectrograms", "anomaly_scores", "detections", "review_clips"],
        )
    finally:
        lineage.warehouse().replace_rows(
            "coverage", coverage.slice(0, 0), where="day = ?", params=[first]
        )
    assert result.success
    scores = _latest_by_day(lineage.instance, "anomaly_scores")
    per_day = {
        r["day"].isoformat(): r
        for r in lineage.warehouse()
        .query(
            "SELECT day, count(*) AS n, count(*) FILTER (WHERE is_anomaly) AS a "
            "FROM anomaly_scores GROUP BY day"
        )
        .to_pylist()
    }
    empty = first.isoformat()
    assert scores[empty]["scoring_steps"] == 0 and scores[empty]["anomalous_steps"] == 0
    assert "no windows" in scores[empty]["summary"]
    windows = set()
    for day in lineage.partition_keys:
        assert scores[day]["scoring_steps"] == per_day[day]["n"]
        assert scores[day]["anomalous_steps"] == per_day[day]["a"]
        assert day in scores[day]["day_scores"]  # the plot of that day, not of the last one
        windows.add(scores[day]["scoring_steps"])
    features = _latest_by_day(lineage.instance, "spectrograms")
    assert features[empty]["windows"] == 0
    assert [features[d]["windows"] for d in lineage.partition_keys] == [
        scores[d]["windows"] for d in lineage.partition_keys
    ]
    found = _latest_by_day(lineage.instance, "detections")
    n_detections = {
        r["day"].isoformat(): r["n"]
        for r in lineage.warehouse()
        .query("SELECT day, count(*) AS n FROM detections GROUP BY day")
        .to_pylist()
    }
    assert found[empty]["detections"] == 0
    for day in lineage.partition_keys:
        assert found[day]["detections"] == n_detections.get(day, 0)
    clips = _latest_by_day(lineage.instance, "review_clips")
    assert clips[empty]["clips"] == 0
    checks = {(e.check_name, e.partition) for e in result.get_asset_check_evaluations()}
    assert checks >= {("anomaly_rate_in_band", d) for d in [empty, *lineage.partition_keys]}


def test_every_asset_check_of_the_code_location_has_a_description():
    from orchestration.definitions import defs

    specs = [
        spec
        for assets_def in defs.resolve_asset_graph().assets_defs
        for spec in assets_def.check_specs
    ]
    assert {s.name for s in specs} >= {
        "files_are_decodable",
        "features_are_finite",
        "enough_typical_windows",
        "threshold_is_sane",
        "gmm_converged",
        "anomaly_rate_in_band",
    }
    assert [s.name for s in specs if not (s.description or "").strip()] == []


def test_day_checks_are_partitioned_by_the_day():
    from aco_assets.defs.partitions import daily_partitions

    for assets_def, name in (
        (ingest, "files_are_decodable"),
        (ingest, "features_are_finite"),
        (anomaly_scores, "anomaly_rate_in_band"),
    ):
        (spec,) = [s for s in assets_def.check_specs if s.name == name]
        assert spec.partitions_def == daily_partitions
