"""Ground truth per window, window metrics, event matching, the energy baseline and the figures."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, roc_auc_score

from aco_assets.reporting.evaluation_figures import per_class_figure, roc_figure
from aco_assets.scoring.baselines import energy_detector_scores
from aco_assets.scoring.evaluation import (
    EvaluationError,
    WindowLabels,
    precision_at_k,
    window_labels,
    window_metrics,
)
from aco_assets.scoring.event_matching import match_events
from aco_assets.scoring.protocol import is_anomalous

T0 = datetime(2016, 2, 15, 5, 0, 0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def t(seconds: float) -> np.datetime64:
    return np.datetime64(T0 + timedelta(seconds=seconds), "us")


def catalog(rows: list[tuple]) -> tuple[pa.Table, pa.Table]:
    """Rows (id, table, class, start_s, end_s, snr_db) -> (events, faults) tables like the synth's.

    ``table`` is "event" or "fault"; events get the columns of ``catalog.parquet``, faults those
    of ``faults.parquet``.
    """

    def times(sel: list[tuple], k: int) -> pa.Array:
        return pa.array([T0 + timedelta(seconds=r[k]) for r in sel], pa.timestamp("us"))

    ev = [r for r in rows if r[1] == "event"]
    fa = [r for r in rows if r[1] == "fault"]
    events = pa.table(
        {
            "event_id": pa.array([r[0] for r in ev], pa.int64()),
            "class": pa.array([r[2] for r in ev], pa.string()),
            "start_utc": times(ev, 3),
            "end_utc": times(ev, 4),
            "source": ["synthetic:test"] * len(ev),
            "low_hz": [100.0] * len(ev),
            "high_hz": [1000.0] * len(ev),
            "snr_db": pa.array([r[5] for r in ev], pa.float64()),
            "file": ["x.HYD24BBpk"] * len(ev),
            "group": pa.array([r[0] for r in ev], pa.int64()),
        }
    )
    faults = pa.table(
        {
            "fault_id": pa.array([r[0] for r in fa], pa.int64()),
            "class": pa.array([r[2] for r in fa], pa.string()),
            "start_utc": times(fa, 3),
            "end_utc": times(fa, 4),
            "file": ["x.HYD24BBpk"] * len(fa),
            "detail": [""] * len(fa),
        }
    )
    return events, faults


def windows(n: int, length_s: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([t(i * length_s) for i in range(n)])
    return starts, starts + np.timedelta64(int(length_s * 1e6), "us")


# ---------------------------------------------------------------- window_labels


def test_window_labels_mark_overlapping_windows_and_keep_the_strongest_event():
    starts, ends = windows(6)  # [0,5) [5,10) ... [25,30)
    cat = catalog(
        [
            (1, "event", "humpback", 6.0, 14.0, 3.0),  # windows 1 and 2
            (2, "event", "ship", 9.0, 12.0, 12.0),  # windows 1 (1 s) and 2: stronger
            (3, "event", "implosion", 20.1, 20.15, 8.0),  # 50 ms inside window 4
            (4, "event", "rain", 24.8, 25.3, 1.0),  # 0.2 s in 4, 0.3 s in 5: both >= 0.25
            (5, "fault", "spike", 0.5, 0.6, 30.0),  # quality, not acoustic
            (6, "fault", "truncated_file", 25.0, 30.0, np.nan),  # quality
        ]
    )
    lab = window_labels(starts, ends, *cat, min_overlap_s=0.5)
    assert lab.is_event.tolist() == [False, True, True, False, True, True]
    assert lab.label.tolist() == ["", "ship", "ship", "", "implosion", "rain"]
    np.testing.assert_array_equal(lab.snr_db, [np.nan, 12.0, 12.0, np.nan, 8.0, 1.0])
    assert lab.event_id.tolist() == [-1, 2, 2, -1, 3, 4]
    assert lab.is_quality.tolist() == [True, False, False, False, False, True]
    assert lab.quality_label.tolist() == ["spike", "", "", "", "", "truncated_file"]


def test_window_labels_ignore_overlaps_shorter_than_the_minimum_and_accept_unsorted_windows():
    starts, ends = windows(4)
    perm = np.array([2, 0, 3, 1])
    cat = catalog([(1, "event", "minke", 9.8, 30.0, 5.0)])  # 0.2 s in window 1, 5 s in 2 and 3
    lab = window_labels(starts[perm], ends[perm], *cat, min_overlap_s=0.5)
    assert lab.is_event.tolist() == [True, False, True, False]  # windows 2, 0, 3, 1


def test_window_labels_name_the_missing_catalog_column():
    starts, ends = windows(2)
    with pytest.raises(EvaluationError, match=r"events lacks column\(s\) \['snr_db'\]"):
        window_labels(
            starts,
            ends,
            {
                "event_id": [1],
                "class": ["x"],
                "start_utc": [t(0)],
                "end_utc": [t(1)],
            },
        )


# ---------------------------------------------------------------- window_metrics


def test_window_metrics_match_hand_computed_values_on_a_small_case():
    # Positives at scores 0.9, 0.6, 0.3; negatives 0.8, 0.4, 0.2, 0.1.
    scores = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 0, 1, 0, 1, 0, 0], bool)
    m = window_metrics(scores, y, max_fpr=0.25, threshold=0.5)
    # Pairs (pos > neg): 0.9 beats 4, 0.6 beats 3, 0.3 beats 2 -> 9 of 12.
    assert m["auc"] == pytest.approx(9 / 12)
    # ROC up to FPR 0.25: (0, 1/3) then (0.25, 1/3) -> area 0.25 / 3.
    assert m["pauc_normalized"] == pytest.approx(1 / 3)
    area, lo, hi = 0.25 / 3, 0.5 * 0.25**2, 0.25
    assert m["pauc_mcclish"] == pytest.approx(0.5 * (1 + (area - lo) / (hi - lo)))
    assert m["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert (m["tpr"], m["fpr"]) == (pytest.approx(2 / 3), pytest.approx(1 / 4))
    assert m["n_windows"] == 7 and m["n_positive"] == 3


def test_window_metrics_agree_with_sklearn_on_random_scores(rng):
    y = rng.random(500) < 0.2
    scores = rng.normal(size=500) + 1.2 * y
    m = window_metrics(scores, y, max_fpr=0.1)
    assert m["auc"] == pytest.approx(roc_auc_score(y, scores))
    assert m["pauc_mcclish"] == pytest.approx(roc_auc_score(y, scores, max_fpr=0.1))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, scores))
    # Automatic operating point: realised FPR at most max_fpr, TPR consistent with threshold.
    assert m["fpr"] <= 0.1
    assert m["tpr"] == pytest.approx(np.mean(is_anomalous(scores[y], m["threshold"])))
    assert m["fpr"] == pytest.approx(np.mean(is_anomalous(scores[~y], m["threshold"])))
    # McClish is an affine map of the normalised area.
    area = m["pauc_normalized"] * 0.1
    assert m["pauc_mcclish"] == pytest.approx(0.5 * (1 + (area - 0.005) / (0.1 - 0.005)))


def test_window_metrics_and_the_model_metrics_share_one_roc(rng):
    from ml.metrics import partial_auc, rates_at_threshold, roc_auc

    y = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + y, 1)  # ties
    m = window_metrics(scores, y, max_fpr=0.1, threshold=0.5)
    assert m["auc"] == roc_auc(y, scores)
    assert m["pauc_normalized"] == partial_auc(y, scores, max_fpr=0.1)
    assert (m["tpr"], m["fpr"]) == rates_at_threshold(y, scores, 0.5)


def test_window_metrics_flag_by_the_model_rule_score_above_threshold():
    # A window scoring exactly the threshold is not anomalous (is_anomalous: score > threshold).
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    y = np.array([1, 1, 0, 0], bool)
    m = window_metrics(scores, y, threshold=0.5)
    assert (m["tpr"], m["fpr"]) == (0.5, 0.0)
    # The automatic operating point names the threshold that flags its ROC point by that rule.
    auto = window_metrics(scores, y, max_fpr=0.5)
    assert (auto["tpr"], auto["fpr"]) == (1.0, 0.5) and auto["threshold"] == 0.1


def test_window_metrics_leave_quality_windows_out_when_given_window_labels():
    lab = WindowLabels(
        is_event=np.array([True, False, False, True]),
        label=np.array(["a", "", "", "b"], object),
        snr_db=np.array([1.0, np.nan, np.nan, 2.0]),
        event_id=np.array([1, -1, -1, 2]),
        is_quality=np.array([False, True, False, False]),
        quality_label=np.array(["", "glitch_spike", "", ""], object),
    )
    m = window_metrics(np.array([0.9, 5.0, 0.1, 0.8]), lab)
    assert m["n_windows"] == 3 and m["auc"] == 1.0


def test_window_metrics_give_nan_ranking_metrics_with_one_class_and_reject_nan_scores():
    m = window_metrics(np.array([0.1, 0.2]), np.array([False, False]), threshold=0.15)
    assert np.isnan(m["auc"]) and np.isnan(m["tpr"]) and m["fpr"] == 0.5
    with pytest.raises(EvaluationError, match="1 scores are NaN"):
        window_metrics(np.array([0.1, np.nan]), np.array([True, False]))


def test_precision_at_k_ranks_by_score_and_handles_short_lists():
    p = precision_at_k(np.array([0.1, 0.9, 0.5, 0.7]), np.array([1, 0, 1, 1], bool), (1, 2, 3, 10))
    assert p == {1: 0.0, 2: 0.5, 3: pytest.approx(2 / 3), 10: 0.75}


# ---------------------------------------------------------------- match_events


def detections(spans: list[tuple[float, float, float]]) -> dict[str, np.ndarray]:
    return {
        "start_utc": np.array([t(a) for a, _, _ in spans]),
        "end_utc": np.array([t(b) for _, b, _ in spans]),
        "peak_score": np.array([s for _, _, s in spans]),
    }


def test_match_events_count_hits_misses_and_two_events_in_one_detection():
    cat = catalog(
        [
            (1, "event", "humpback", 10.0, 12.0, 3.0),  # recalled by detection A
            (2, "event", "humpback", 14.0, 15.0, 7.0),  # also recalled by A (two in one)
            (3, "event", "ship", 100.0, 200.0, 15.0),  # recalled by B, which spans many windows
            (4, "event", "minke", 300.0, 301.0, -2.0),  # missed
            (5, "event", "blue_whale", 403.0, 404.0, 25.0),  # within tolerance of D
            (6, "fault", "dropout", 500.0, 501.0, np.nan),  # quality: hit by E
            (7, "fault", "missing_file", 600.0, 900.0, np.nan),
        ]
    )
    det = detections(
        [
            (9.0, 16.0, 5.0),  # A: true
            (120.0, 180.0, 9.0),  # B: true
            (250.0, 255.0, 8.0),  # C: false alarm
            (400.0, 401.5, 1.0),  # D: 1.5 s before event 5, tolerance 2 s: true
            (499.0, 502.0, 7.0),  # E: quality only: false
        ]
    )
    r = match_events(det, *cat, tolerance_s=2.0, n_days=2.0, ks=(1, 2, 4))
    assert (r.n_events, r.n_detected, r.recall) == (5, 4, 0.8)
    assert r.recall_by_class["humpback"] == {"n_events": 2, "n_detected": 2, "recall": 1.0}
    assert r.recall_by_class["minke"]["recall"] == 0.0
    assert r.recall_by_snr["lt0dB"]["recall"] == 0.0
    assert r.recall_by_snr["ge20dB"] == {"n_events": 1, "n_detected": 1, "recall": 1.0}
    assert r.recall_by_snr["10to20dB"]["n_events"] == 1
    assert r.detection_is_true.tolist() == [True, True, False, True, False]
    assert (r.n_detections, r.n_true_detections, r.n_quality_detections) == (5, 3, 1)
    assert r.precision == pytest.approx(0.6)
    assert (r.alarms_per_day, r.false_alarms_per_day) == (2.5, 1.0)
    # Ranked by peak score: B(9, T), C(8, F), E(7, F), A(5, T), D(1, T).
    assert r.precision_at_k == {1: 1.0, 2: 0.5, 4: 0.5}
    assert r.summary()["recall_humpback"] == 1.0


def test_match_events_without_tolerance_miss_the_nearby_event():
    cat = catalog([(1, "event", "blue_whale", 403.0, 404.0, 25.0)])
    r = match_events(detections([(400.0, 401.5, 1.0)]), *cat, tolerance_s=0.0)
    assert r.recall == 0.0 and r.precision == 0.0 and r.alarms_per_day == 1.0


# ---------------------------------------------------------------- energy detector


def test_energy_detector_scores_take_the_largest_excess_over_the_median_floor():
    levels = {
        "level_low_db": np.array([60.0, 61.0, 59.0, 60.0, 75.0]),  # median 60
        "level_mid_db": np.array([50.0, 58.0, 50.0, np.nan, 51.0]),  # median 50.5
    }
    r = energy_detector_scores(levels)
    np.testing.assert_allclose(r.score, [0.0, 7.5, -0.5, 0.0, 15.0])
    assert r.band.tolist() == [
        "level_low_db",
        "level_mid_db",
        "level_mid_db",
        "level_low_db",
        "level_low_db",
    ]
    ref = energy_detector_scores(levels, reference={"level_low_db": [70.0], "level_mid_db": [40.0]})
    np.testing.assert_allclose(ref.score, [10.0, 18.0, 10.0, -10.0, 11.0])


def test_energy_detector_trailing_floor_is_causal_and_follows_a_level_change():
    x = np.concatenate([np.full(20, 50.0), np.full(20, 70.0)])
    r = energy_detector_scores({"b": x}, trailing_windows=5)
    floor = r.floor_db["b"]
    # Window i's floor is the median of windows i-4..i: it moves only after the change.
    np.testing.assert_allclose(floor[:20], 50.0)
    np.testing.assert_allclose(floor[20:22], 50.0)  # 1-2 of the 5 trailing windows are at 70
    np.testing.assert_allclose(floor[22:], 70.0)  # 3 of 5 and more
    assert r.score[20] == 20.0 and r.score[30] == 0.0


def test_energy_detector_rejects_missing_reference_band():
    with pytest.raises(EvaluationError, match="reference lacks band 'b'"):
        energy_detector_scores({"b": np.zeros(3)}, reference={"a": np.zeros(3)})


# ---------------------------------------------------------------- figures


def test_figures_draw_every_detector(rng):
    y = rng.random(200) < 0.3
    res = {n: window_metrics(rng.normal(size=200) + k * y, y) for k, n in enumerate(("np", "vae"))}
    fig = roc_figure(res, max_fpr=0.1)
    assert isinstance(fig, Figure) and len(fig.axes[1].lines) == 4  # 2 curves + 2 points
    cat = catalog([(1, "event", "humpback", 10.0, 12.0, 3.0), (2, "event", "ship", 50, 60, 12.0)])
    m = match_events(detections([(9.0, 11.0, 1.0)]), *cat)
    fig2 = per_class_figure({"np": m, "energy": m})
    assert len(fig2.axes[0].patches) == 4  # 2 classes x 2 detectors
