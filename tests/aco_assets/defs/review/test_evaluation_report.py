"""The ``evaluation`` asset on the session's materialized synthetic lineage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.defs.review.evaluation_report import evaluation
from aco_assets.scoring.evaluation import window_labels
from aco_assets.scoring.methods import METHODS
from aco_assets.storage.evaluation_store import evaluation_dir
from aco_assets.synth import read_catalog, read_faults
from orchestration.cli.review_commands import import_reviews


def _metrics(lineage, version: int) -> dict[tuple[str, str, str], float]:
    rows = (
        lineage.warehouse()
        .query(
            "SELECT method, metric, subset, value FROM evaluation_metrics WHERE model_version = ?",
            [version],
        )
        .to_pylist()
    )
    return {(r["method"], r["metric"], r["subset"]): r["value"] for r in rows}


@pytest.fixture(scope="module")
def evaluated(lineage) -> int:
    """Materialize ``evaluation`` once; returns the evaluated model version."""
    lineage.warehouse().query_rw("DELETE FROM reviews")
    result = lineage.materialize([evaluation])
    return int(
        result.asset_materializations_for_node("evaluation")[0].metadata["model_version"].value
    )


def test_every_method_gets_window_and_event_metrics_on_the_same_windows(lineage, evaluated):
    m = _metrics(lineage, evaluated)
    n = {m[(method, "n_windows", "all")] for method in METHODS}
    assert len(n) == 1 and n.pop() > 0
    for method in METHODS:
        assert 0.0 <= m[(method, "auc", "all")] <= 1.0
        assert 0.0 <= m[(method, "event_recall", "all")] <= 1.0
        assert m[(method, "n_events", "all")] > 0


def test_window_auc_matches_an_independent_computation_without_quality_windows(lineage, evaluated):
    wh = lineage.warehouse()
    finite = " AND ".join(f"isfinite({c})" for c in METHODS.values())
    rows = wh.query(
        f"SELECT step_start AS window_start, step_end AS window_end, score, energy_score "
        "FROM anomaly_scores "
        f"WHERE model_version = ? AND NOT quality_flag AND {finite}",
        [evaluated],
    )
    labels = window_labels(
        rows["window_start"].to_numpy(),
        rows["window_end"].to_numpy(),
        read_catalog(lineage.archive),
        read_faults(lineage.archive),
    )
    keep = ~labels.is_quality
    m = _metrics(lineage, evaluated)
    for method, column in (("production", "score"), ("energy", "energy_score")):
        expected = roc_auc_score(labels.is_event[keep], rows[column].to_numpy()[keep])
        assert m[(method, "auc", "all")] == pytest.approx(expected)
    n_quality = wh.query(
        "SELECT count(*) AS n FROM anomaly_scores WHERE quality_flag AND model_version = ?",
        [evaluated],
    )["n"][0].as_py()
    assert n_quality > 0, "the faulty test archive should flag some windows"
    assert m[("production", "n_windows", "all")] == int(keep.sum())


def test_recall_per_class_and_snr_bucket_sum_to_the_catalog(lineage, evaluated):
    m = _metrics(lineage, evaluated)
    classes = set(read_catalog(lineage.archive)["class"].to_pylist())
    by_class = sum(m[("production", "n_events", c)] for c in classes)
    by_snr = sum(
        v for (meth, k, s), v in m.items() if meth == "production" and k == "n_events" and "dB" in s
    )
    assert by_class == by_snr == m[("production", "n_events", "all")]


def test_rerun_replaces_rows_logs_to_mlflow_and_counts_reviewer_precision(
    lineage, evaluated, tmp_path
):
    wh = lineage.warehouse()
    before = wh.query(
        "SELECT count(*) AS n FROM evaluation_metrics WHERE model_version = ?", [evaluated]
    )["n"][0].as_py()
    dets = wh.query(
        "SELECT detection_id FROM detections WHERE model_version = ? ORDER BY peak_score DESC",
        [evaluated],
    )["detection_id"].to_pylist()
    verdicts = ["true_event", "false_alarm", "true_event"]
    csv = tmp_path / "verdicts.csv"
    csv.write_text(
        "detection_id,verdict\n"
        + "".join(f"{d},{v}\n" for d, v in zip(dets, verdicts, strict=False))
    )
    n_reviewed = import_reviews(wh, csv, reviewer="tester")
    lineage.materialize([evaluation])
    m = _metrics(lineage, evaluated)
    expected = [v == "true_event" for v in verdicts[:n_reviewed]]
    assert m[("production", "precision_at_10", "reviews")] == pytest.approx(np.mean(expected))
    after = wh.query(
        "SELECT count(*) AS n FROM evaluation_metrics WHERE model_version = ?", [evaluated]
    )["n"][0].as_py()
    assert after == before + 5  # the same rows again, plus 3 precision@k, n_reviewed, precision
    run_id = wh.query("SELECT run_id FROM model_versions WHERE model_version = ?", [evaluated])[
        "run_id"
    ][0].as_py()
    client = lineage.resources["mlflow_resource"].client()
    logged = client.get_run(run_id).data.metrics
    assert logged["eval.production.auc"] == pytest.approx(m[("production", "auc", "all")])
    assert "eval.production.precision_at_10.reviews" in logged
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/roc.png",
        "evaluation/per_class.png",
    }
    assert (evaluation_dir(lineage.resources["storage"].layout(), evaluated) / "roc.png").exists()


def test_without_a_catalog_only_alarm_and_review_metrics_are_written(lineage, evaluated, tmp_path):
    storage = StorageResource(
        data_dir=str(lineage.data), archive_root=str(tmp_path)
    )  # no catalog here
    resources = {"storage": storage, "mlflow_resource": MlflowResource(storage=storage)}
    import dagster as dg

    dg.materialize([evaluation], resources=resources, instance=lineage.instance)
    m = _metrics(lineage, evaluated)
    assert {s for (_, _, s) in m} <= {"detections", "reviews"}
    assert m[("production", "alarms_per_day", "detections")] >= 0
    lineage.materialize([evaluation])  # restore the full evaluation for other tests


def test_held_out_figures_cover_every_score_and_the_band_energy_baselines(lineage, evaluated):
    import json

    from aco_assets.storage.layout import DataLayout

    m = _metrics(lineage, evaluated)
    methods = ("production", "np", "gmm_nll", "combined", "recon_error", "energy_1s", "energy_5s")
    for method in methods:
        for part in ("test", "train"):
            assert 0.0 <= m[(method, "class_balanced_auc", part)] <= 1.0
            assert 0.0 <= m[(method, "recall_at_budget", part)] <= 1.0
    assert m[("production", "fa_per_hour_at_threshold", "test")] >= 0.0
    layout = DataLayout.resolve(data_dir=lineage.data, archive_root=lineage.archive)
    summary = json.loads((evaluation_dir(layout, evaluated) / "yardstick.json").read_text())
    assert summary["split"]["test"] and summary["parts"]["test"]["hours"] > 0
    # the 1 s baseline scores five times as many steps as the 5 s one, over the same audio
    test = summary["parts"]["test"]["methods"]
    assert test["energy_1s"]["n_steps"] == pytest.approx(5 * test["energy_5s"]["n_steps"], rel=0.02)
    faults = summary["faults"]
    assert {"truncated_file", "missing_file", "corrupt_width"} <= set(faults)
    assert all(0 <= f["found"] <= f["n"] for f in faults.values())
    assert faults["truncated_file"]["found"] == faults["truncated_file"]["n"]
