"""The lineage on the synthetic test archive: rows, files, checks, re-runs, faults and failures."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.detect.detections import detections
from aco_assets.defs.ingest.day_ingest import ingest
from aco_assets.defs.resources import ArchiveNotFoundError
from aco_assets.storage.model_registry import CHAMPION
from aco_assets.synth import read_faults
from tests.conftest import lineage_resources


def _count(lineage, sql: str, *params) -> int:
    return lineage.warehouse().query(sql, list(params)).column(0)[0].as_py()


def test_raw_files_lists_every_file_and_reports_faults_and_coverage(lineage):
    files = sorted(p for p in lineage.archive.rglob("*.HYD24BBpk"))
    assert _count(lineage, "SELECT count(*) FROM raw_files") == len(files)
    faults = read_faults(lineage.archive).to_pylist()
    assert {"truncated_file", "missing_file", "corrupt_width"} <= {f["class"] for f in faults}
    coverage = lineage.warehouse().query("SELECT * FROM coverage ORDER BY day").to_pylist()
    assert [c["day"] for c in coverage] == lineage.days
    assert all(c["expected"] == 288 and c["found"] + c["missing"] == 288 for c in coverage)
    assert sum(c["faulty"] for c in coverage) >= 2  # the truncated file and the corrupt width
    missing = [f for f in faults if f["class"] == "missing_file"][0]
    starts = json.loads(
        lineage.warehouse()
        .query("SELECT missing_starts FROM coverage WHERE day = ?", [missing["start_utc"].date()])
        .column(0)[0]
        .as_py()
    )
    nominal = missing["start_utc"].replace(second=0, microsecond=0)  # headers lag names by < 0.1 s
    assert nominal.isoformat() in starts


def test_a_corrupt_file_is_reported_and_the_rest_of_the_day_still_processes(lineage):
    faulty = (
        lineage.warehouse()
        .query("SELECT day, path, status, faults FROM raw_files WHERE status <> 'ok'")
        .to_pylist()
    )
    assert faulty, "the test archive injects faulty files"
    for row in faulty:
        kinds = {f["kind"] for f in json.loads(row["faults"])}
        assert kinds, row
        # every other file of that day has windows
        ok_files = (
            lineage.warehouse()
            .query("SELECT path FROM raw_files WHERE day = ? AND status = 'ok'", [row["day"]])
            .column(0)
            .to_pylist()
        )
        windowed = set(
            lineage.warehouse()
            .query("SELECT DISTINCT file FROM windows WHERE day = ?", [row["day"]])
            .column(0)
            .to_pylist()
        )
        assert set(ok_files) <= windowed


def test_spectrograms_write_one_feature_row_per_window_and_pass_their_check(lineage):
    from aco_assets.storage.layout import DataLayout

    layout = DataLayout.resolve(data_dir=lineage.data, archive_root=lineage.archive)
    for day in lineage.days:
        n = _count(lineage, "SELECT count(*) FROM windows WHERE day = ?", day)
        features = np.load(layout.features_path(day), mmap_mode="r")
        assert features.shape[0] == n > 0
        assert np.isfinite(features).all()
        starts = (
            lineage.warehouse()
            .query(
                "SELECT window_start, window_end FROM windows WHERE day = ? ORDER BY window_index",
                [day],
            )
            .to_pylist()
        )
        assert all((r["window_end"] - r["window_start"]) == dt.timedelta(seconds=5) for r in starts)


def test_rematerializing_a_partition_replaces_its_rows(lineage):
    key = lineage.partition_keys[0]
    before = {
        t: _count(lineage, f"SELECT count(*) FROM {t}")
        for t in ("raw_files", "windows", "anomaly_scores")
    }
    result = lineage.materialize([ingest], partition_key=key)
    lineage.materialize([anomaly_scores, detections], partition_key=key)
    after = {t: _count(lineage, f"SELECT count(*) FROM {t}") for t in before}
    assert after == before
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["features_are_finite"] is True
    assert "files_are_decodable" in checks


def test_a_day_without_files_materializes_as_empty_coverage(lineage):
    empty_day = "2016-06-01"
    lineage.materialize([ingest], partition_key=empty_day)
    row = (
        lineage.warehouse()
        .query("SELECT * FROM coverage WHERE day = ?", [dt.date(2016, 6, 1)])
        .to_pylist()
    )
    assert row and row[0]["found"] == 0 and row[0]["missing"] == 288
    assert _count(lineage, "SELECT count(*) FROM windows WHERE day = ?", dt.date(2016, 6, 1)) == 0


def test_a_missing_archive_root_is_a_clear_error(lineage, tmp_path):
    resources = lineage_resources(tmp_path / "nowhere", tmp_path / "data")
    with pytest.raises(ArchiveNotFoundError, match="nowhere.*does not exist"):
        dg.materialize(
            [ingest],
            selection=["raw_files"],
            partition_key=lineage.partition_keys[0],
            resources=resources,
            instance=lineage.instance,
        )


def test_a_failed_write_leaves_the_previous_rows(lineage):
    warehouse = lineage.warehouse()
    day = lineage.days[0]
    before = _count(lineage, "SELECT count(*) FROM windows WHERE day = ?", day)
    bad = pa.table({"day": [day], "no_such_column": [1]})
    with pytest.raises(Exception, match="no_such_column"):
        warehouse.replace_many(
            [
                (
                    "windows",
                    pa.table({"day": pa.array([], pa.date32())}),
                    "day = ?",
                    [day],
                ),  # delete all
                ("coverage", bad, "day = ?", [day]),  # then fail
            ]
        )
    assert _count(lineage, "SELECT count(*) FROM windows WHERE day = ?", day) == before


def test_typical_windows_follow_the_rules_and_report_contamination(lineage):
    from tests.conftest import TINY_TYPICAL

    rows = lineage.warehouse().query("SELECT window_start, rules FROM typical_windows").to_pylist()
    assert rows
    for r in rows:
        hst_hour = (r["window_start"] - dt.timedelta(hours=10)).hour
        month = r["window_start"].month
        assert hst_hour in TINY_TYPICAL["evening_hours_hst"] or month in (6, 7, 8, 9)
        assert r["rules"]


def test_detector_registers_a_champion_version_with_its_run(lineage):
    import mlflow

    client = lineage.resources["mlflow_resource"].client()
    version = client.get_model_version_by_alias("aco-detector", CHAMPION)
    run = client.get_run(version.run_id)
    assert {"threshold", "heldout_fpr", "calibration_fpr"} <= set(run.data.metrics)
    assert any(k.startswith("phase1.") for k in run.data.metrics)
    assert "dagster_run_id" in run.data.tags
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "figures")}
    assert "figures/losses.png" in artifacts
    row = lineage.warehouse().query("SELECT * FROM model_versions WHERE is_champion").to_pylist()
    assert [r["model_version"] for r in row] == [int(version.version)]
    selections = lineage.warehouse().query("SELECT selection_id FROM typical_selections")
    assert row[0]["typical_selection_id"] in selections.column(0).to_pylist()  # what trained it
    # anyone can load the champion from the registry and score feature windows with it
    from aco_assets.storage.layout import DataLayout

    model = mlflow.pyfunc.load_model(f"models:/aco-detector@{CHAMPION}")
    layout = DataLayout.resolve(data_dir=lineage.data, archive_root=lineage.archive)
    features = np.load(layout.features_path(lineage.days[0]))[:8]
    frame = model.predict(features)
    assert len(frame) == 8
    assert {"score", "tail_prob", "is_anomaly", "gmm_nll", "np_error"} <= set(frame.columns)
    meta = lineage.instance.get_latest_materialization_event(dg.AssetKey("detector"))
    metadata = meta.asset_materialization.metadata
    assert metadata["model_version"].value == int(version.version)
    assert "figures" in metadata


def test_anomaly_scores_cover_every_window_with_the_model_version(lineage):
    for day in lineage.days:
        n_windows = _count(lineage, "SELECT count(*) FROM windows WHERE day = ?", day)
        rows = (
            lineage.warehouse()
            .query(
                "SELECT s.*, w.valid FROM anomaly_scores s JOIN windows w USING (day, window_index) WHERE s.day = ?",
                [day],
            )
            .to_pylist()
        )
        # one row per 1 s scoring step of each 5 s window
        assert len(rows) == 5 * n_windows
        assert sorted({r["step"] for r in rows}) == [0, 1, 2, 3, 4]
        for r in rows:
            assert r["window_start"] <= r["step_start"] < r["step_end"] <= r["window_end"]
            assert r["step_end"] - r["step_start"] == dt.timedelta(seconds=1)
        assert {r["model_version"] for r in rows} == {1}
        scored = [r for r in rows if r["valid"]]
        assert all(0.0 <= r["tail_prob"] <= 1.0 and np.isfinite(r["score"]) for r in scored)
        threshold = (
            lineage.warehouse()
            .query("SELECT threshold FROM model_versions WHERE model_version = 1")
            .column(0)[0]
            .as_py()
        )
        for r in scored:
            assert r["is_anomaly"] == (r["score"] > threshold and not r["quality_flag"])


def test_quality_flagged_windows_never_count_as_anomalies(lineage):
    assert (
        _count(lineage, "SELECT count(*) FROM anomaly_scores WHERE quality_flag AND is_anomaly")
        == 0
    )


def test_detections_are_merged_anomalous_steps(lineage):
    dets = (
        lineage.warehouse().query("SELECT * FROM detections ORDER BY day, rank_in_day").to_pylist()
    )
    anomalous = _count(lineage, "SELECT count(*) FROM anomaly_scores WHERE is_anomaly")
    assert sum(d["n_steps"] for d in dets) == anomalous
    for d in dets:
        assert d["start_utc"] <= d["peak_utc"] < d["end_utc"]
        assert 10 <= d["f_low_hz"] < d["f_high_hz"] <= 10000
        assert d["model_version"] == 1


def test_reviewer_confirmed_events_leave_the_typical_selection(lineage):
    from aco_assets.defs.model.typical_windows import typical_windows
    from tests.conftest import TINY_TYPICAL

    config = {"ops": {"typical_windows": {"config": {**TINY_TYPICAL, "min_typical_windows": 1}}}}
    wh = lineage.warehouse()
    typical_overlapping = """
        SELECT d.detection_id, count(*) AS n FROM typical_windows t
        JOIN windows w USING (day, window_index)
        JOIN detections d ON w.window_start < d.end_utc AND w.window_end > d.start_utc
        GROUP BY d.detection_id ORDER BY n DESC LIMIT 1"""
    lineage.materialize([typical_windows], run_config=config)
    hit = wh.query(typical_overlapping).to_pylist()
    assert hit, "the test archive has a detection inside typical windows"
    detection_id = hit[0]["detection_id"]
    review = pa.table(
        {
            "detection_id": [detection_id],
            "verdict": ["true_event"],
            "source_file": ["test"],
            "reviewer": ["pytest"],
        }
    )
    try:
        wh.replace_rows("reviews", review, where="source_file = ?", params=["test"])
        lineage.materialize([typical_windows], run_config=config)
        left = wh.query(
            typical_overlapping.replace(
                "GROUP BY", f"WHERE d.detection_id = '{detection_id}' GROUP BY"
            )
        )
        assert left.num_rows == 0
    finally:
        wh.replace_rows(
            "reviews",
            pa.table({"detection_id": pa.array([], pa.string())}),
            where="source_file = ?",
            params=["test"],
        )
        lineage.materialize([typical_windows], run_config=config)


def test_training_calibration_and_test_time_never_overlap(lineage):
    row = lineage.warehouse().query("SELECT * FROM model_versions WHERE model_version = 1")
    row = row.to_pylist()[0]
    train, cal, test = (set(json.loads(row[k])) for k in ("train_units", "calibration_units",
                                                          "test_units"))  # fmt: skip
    assert train and cal and test
    assert not (train & cal) and not (train & test) and not (cal & test)
    assert row["split_unit"] == "hour"  # the test archive has two days
    typical_in_train = _count(
        lineage,
        "SELECT count(*) FROM typical_windows WHERE strftime(window_start, '%Y-%m-%dT%H') IN "
        f"({', '.join(repr(u) for u in sorted(train))})",
    )
    assert row["n_typical"] == typical_in_train  # the GMM saw the training hours only
    assert row["false_alarms_per_hour"] == 12.0 and row["threshold_rule"] in ("empirical",
                                                                               "tail_fit")  # fmt: skip
    assert row["heldout_hours"] > 0


def test_the_champion_check_fails_a_threshold_far_from_the_budget(lineage):
    from aco_assets.defs.model.detector import DetectorTrainingConfig
    from aco_assets.scoring.training import heldout_check
    from aco_assets.scoring.training_data import gather_features, training_rows
    from aco_assets.storage.layout import DataLayout
    from aco_assets.storage.model_registry import load_champion
    from tests.conftest import TINY_DETECTOR

    layout = DataLayout.resolve(data_dir=lineage.data, archive_root=lineage.archive)
    resource = lineage.resources["mlflow_resource"]
    model = load_champion(resource.client(), "aco-detector", cache_dir=layout.models_dir)
    config = DetectorTrainingConfig(**{**TINY_DETECTOR, "check_alpha": 0.01}).settings()
    rows = training_rows(lineage.warehouse(), config).heldout
    features = gather_features(layout, lineage.warehouse(), rows)
    scores = model.detector.score(features).score
    model.detector.set_operating_point(float(scores.min()) - 1.0)  # everything alarms
    _, check = heldout_check(model.detector, features, rows, config)
    assert not check.passed and check.ci_low_per_hour > config.budget_per_hour
    model.detector.set_operating_point(float(scores.max()) + 1.0)  # nothing alarms
    _, check = heldout_check(model.detector, features, rows, config)
    # five minutes of held-out time cannot tell silence from 12 alarms an hour: passes
    assert check.n_alarms == 0 and check.passed


def test_anomaly_scores_keep_the_offsets_detections_need(lineage):
    wh = lineage.warehouse()
    differ = _count(
        lineage,
        "SELECT count(*) FROM anomaly_scores s JOIN windows w USING (day, window_index) "
        "WHERE s.offset_s IS DISTINCT FROM w.offset_s OR s.file IS DISTINCT FROM w.file",
    )
    assert differ == 0
    firsts = wh.query(
        "SELECT d.offset_s AS got, s.offset_s AS window_offset, d.start_utc, s.window_start "
        "FROM detections d JOIN anomaly_scores s ON s.day = d.day AND s.step_start = d.start_utc "
        "AND s.file = d.file AND s.is_anomaly"
    ).to_pylist()
    assert firsts
    for r in firsts:
        expected = r["window_offset"] + (r["start_utc"] - r["window_start"]).total_seconds()
        assert r["got"] == pytest.approx(expected)


def test_one_run_resolves_the_champion_once_and_maps_each_day_once(lineage, monkeypatch):
    import aco_assets.storage.scoring_context as scoring_context

    calls = {"champion_version": 0, "load_version": 0, "load_day_features": 0}

    def counted(name):
        real = getattr(scoring_context, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(scoring_context, name, wrapper)

    for name in calls:
        counted(name)
    lineage.materialize([anomaly_scores, detections], partition_key=lineage.partition_keys[0])
    assert calls == {"champion_version": 1, "load_version": 1, "load_day_features": 1}
