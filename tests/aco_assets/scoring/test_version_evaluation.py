"""One model version's evaluation without Dagster or a warehouse: methods, rows, the page."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from aco_assets.reporting.evaluation_page import (
    FIGURES,
    held_out_markdown,
    methods_markdown,
    write_evaluation_page,
)
from aco_assets.reporting.results_document import recall_subsets, results_document, verdict_line
from aco_assets.scoring.methods import (
    METHODS,
    WINDOW_METRICS,
    baseline_detections,
    equal_budget_threshold,
    review_rows,
    yardstick_rows,
)
from aco_assets.scoring.version_evaluation import (
    EvaluationSettings,
    VersionInputs,
    evaluate_model_version,
)
from tests.aco_assets.scoring.test_evaluation import catalog

T0 = dt.datetime(2016, 2, 15, 5, 0, 0)


def _windows(scores: dict[str, np.ndarray], length_s: float = 5.0) -> pa.Table:
    n = len(next(iter(scores.values())))
    start = [T0 + dt.timedelta(seconds=i * length_s) for i in range(n)]
    return pa.table(
        {
            "day": [T0.date()] * n,
            "window_start": pa.array(start, pa.timestamp("us")),
            "window_end": pa.array(
                [s + dt.timedelta(seconds=length_s) for s in start], pa.timestamp("us")
            ),
            **{column: scores[column] for column in METHODS.values()},
            "is_anomaly": scores["score"] > 1.0,
        }
    )


def _inputs(with_catalog: bool = True) -> VersionInputs:
    rng = np.random.default_rng(0)
    n = 40
    base = rng.normal(size=n)
    base[[4, 5, 20]] += 5.0  # the two events
    scores = {c: base + 0.1 * rng.normal(size=n) for c in METHODS.values()}
    windows = _windows(scores)
    events, faults = catalog(
        [(0, "event", "humpback", 21.0, 28.0, 12.0), (1, "event", "ship", 101.0, 104.0, 3.0)]
    )
    production = pa.table(
        {
            "start_utc": pa.array([T0 + dt.timedelta(seconds=20)], pa.timestamp("us")),
            "end_utc": pa.array([T0 + dt.timedelta(seconds=30)], pa.timestamp("us")),
            "peak_score": [5.0],
        }
    )
    reviewed = pa.table({"peak_score": [5.0, 2.0], "is_true": [True, False]})
    return VersionInputs(
        version=3,
        model={"threshold": 1.0, "run_id": None},
        windows=windows,
        n_days=1,
        production=production,
        reviewed=reviewed,
        per_day=(("2016-02-15", 1),),
        catalog_path="archive/catalog.parquet",
        catalog=events if with_catalog else None,
        faults=faults if with_catalog else None,
    )


def _value(rows: list[dict]) -> dict[tuple[str, str, str], float]:
    return {(r["method"], r["metric"], r["subset"]): r["value"] for r in rows}


def test_a_version_is_scored_by_every_method_on_the_same_windows():
    outcome = evaluate_model_version(_inputs(), EvaluationSettings(ks=(1, 2)))
    value = _value(outcome.rows)
    assert {value[(m, "n_windows", "all")] for m in METHODS} == {40.0}
    for method in METHODS:
        assert all((method, k, "all") in value for k in WINDOW_METRICS)
        assert value[(method, "n_events", "all")] == 2.0
    assert value[("production", "threshold", "all")] == 1.0
    assert value[("production", "precision_at_1", "reviews")] == 1.0
    assert value[("production", "precision", "reviews")] == 0.5
    assert outcome.alarms_per_day == 1.0
    # no time split recorded: the held-out figures are left out, and the log says so
    assert outcome.held_out is None and "no time split" in outcome.notes[0]


def test_without_a_catalog_only_alarm_and_review_rows_are_made():
    outcome = evaluate_model_version(_inputs(with_catalog=False))
    assert {r["subset"] for r in outcome.rows} == {"reviews", "detections"}
    assert (
        outcome.results is None and "no ground truth at archive/catalog.parquet" in outcome.notes[0]
    )


def test_baselines_flag_windows_by_the_model_rule_and_merge_them_into_events():
    scores = {c: np.array([0.0, 2.0, 2.0, 0.0, 1.0, 3.0]) for c in METHODS.values()}
    dets = baseline_detections(_windows(scores), "energy_score", 1.0, max_gap_s=0.0)
    # 1.0 is not above the threshold: windows 1-2 and 5 only
    assert dets["peak_score"].tolist() == [2.0, 3.0]
    assert dets["start_utc"][0] == np.datetime64(T0 + dt.timedelta(seconds=5), "us")
    empty = baseline_detections(_windows(scores), "energy_score", 9.0, max_gap_s=0.0)
    assert empty["start_utc"].dtype == np.dtype("datetime64[us]") and len(empty["peak_score"]) == 0


def test_an_equal_alarm_budget_flags_the_production_share():
    s = np.arange(100.0)
    keep = np.ones(100, bool)
    thr = equal_budget_threshold(s, keep, 0.1)
    assert np.mean(s > thr) == pytest.approx(0.1, abs=0.01)
    assert equal_budget_threshold(s, keep, 0.0) == float("inf")


def test_review_and_yardstick_rows():
    assert review_rows(pa.table({"peak_score": pa.array([], pa.float64()),
                                 "is_true": pa.array([], pa.bool_())}), (10,)) == []  # fmt: skip
    summary = {"parts": {"test": {"methods": {"np": {"auc": 0.7, "per_class_recall": {"a": 0.5}}}}}}
    assert yardstick_rows(summary) == [
        {"method": "np", "metric": "auc", "subset": "test", "value": 0.7},
        {"method": "np", "metric": "per_class_recall", "subset": "test:a", "value": 0.5},
    ]
    text = held_out_markdown(
        {
            "budget_per_hour": 1.0,
            "parts": {"test": {"hours": 2.0, "methods": {"np": {"pauc": 0.6}}}},
        }
    )
    assert "2.00 h of audio" in text and "| np | - | - | 0.600 | - | - |" in text


def test_the_page_draws_the_figures_and_the_methods_table(tmp_path):
    inputs = _inputs()
    outcome = evaluate_model_version(inputs)
    page = write_evaluation_page(
        outcome, list(inputs.per_day), version=3, max_fpr=0.1, directory=tmp_path
    )
    assert list(page.figures) == [*FIGURES, "alarms_per_day"]
    assert all((tmp_path / f"{name}.png").stat().st_size > 1000 for name in page.figures)
    assert page.methods == methods_markdown(outcome.rows, 0.1)
    assert all(f"| {m} | " in page.methods for m in METHODS)
    bare = evaluate_model_version(_inputs(with_catalog=False))
    only_alarms = write_evaluation_page(bare, [], version=3, max_fpr=0.1, directory=tmp_path / "x")
    assert only_alarms.figures == {} and not (tmp_path / "x").exists()


def test_the_results_document_lists_methods_classes_snr_and_reviews():
    outcome = evaluate_model_version(_inputs(), EvaluationSettings(ks=(10,)))
    now = dt.datetime(2026, 1, 2, 3, 4)
    rows = [{**r, "evaluated_at": now} for r in outcome.rows]
    model = {
        "model_version": 3, "is_champion": True, "score_name": "np", "false_alarms_per_hour": 1.0,
        "threshold": 1.0, "heldout_false_alarms_per_hour": 0.5, "checks_passed": True,
        "n_general": 100, "n_typical": 50, "run_id": "abc",
    }  # fmt: skip
    text = results_document(model, rows, {"lo": "2016-02-15", "hi": "2016-02-15", "n": 1})
    assert "version 3 (champion)" in text and "evaluation of 2026-01-02 03:04 UTC" in text
    assert "| humpback | 1 |" in text and "## From reviewer verdicts" in text
    value = _value(outcome.rows)
    buckets = ["lt0dB", "0to5dB", "5to10dB", "10to20dB", "ge20dB"]
    assert recall_subsets(value) == ["humpback", "ship", *buckets]  # classes, then SNR in dB order
    assert verdict_line(value).startswith("Production vs baselines, AUC: ")
