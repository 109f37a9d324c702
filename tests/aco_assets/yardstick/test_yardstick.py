"""The yardstick metrics: step labels, AUCs vs scikit-learn, episodes, operating points, budget."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from aco_assets.scoring.evaluation import EvaluationError
from aco_assets.yardstick import (
    class_balanced_auc,
    compare_methods,
    episodes,
    evaluate_method,
    event_balanced_auc,
    is_anomalous,
    operating_point,
    recall_at_budget,
    results_table,
    step_truth,
    union_seconds,
    window_auc,
)

T0 = np.datetime64("2017-03-01T00:00:00", "us")


def at(seconds) -> np.ndarray:
    """Times ``seconds`` after T0, datetime64[us]."""
    return T0 + (np.asarray(seconds, dtype=np.float64) * 1e6).astype("timedelta64[us]")


def events_table(rows: list[tuple]) -> dict[str, np.ndarray]:
    """Events from (event_id, class, start_s, end_s, snr_db) rows, in the catalog's columns."""
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    return {
        "event_id": np.asarray(cols[0], np.int64),
        "class": np.asarray(cols[1], object),
        "start_utc": at(cols[2]),
        "end_utc": at(cols[3]),
        "snr_db": np.asarray(cols[4], np.float64),
        "group": np.asarray(cols[0], np.int64),
        "low_hz": np.full(len(rows), 10.0),
        "high_hz": np.full(len(rows), 1000.0),
    }


def faults_table(rows: list[tuple]) -> dict[str, np.ndarray]:
    """Faults from (class, start_s, end_s) rows."""
    cols = list(zip(*rows, strict=True)) if rows else [[], [], []]
    n = len(rows)
    return {
        "fault_id": np.arange(n, dtype=np.int64),
        "class": np.asarray(cols[0], object),
        "start_utc": at(cols[1]),
        "end_utc": at(cols[2]),
        "file": np.full(n, "x.HYD24BBpk", object),
        "detail": np.full(n, "", object),
    }


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1810)


@pytest.fixture
def random_case(rng):
    """2000 one-second steps, 40 events of 3 classes (0.05-20 s), 3 faults, random scores."""
    n = 2000
    starts = at(np.arange(n, dtype=float))
    ends = starts + np.timedelta64(1, "s")
    t = rng.uniform(0, n - 25, 40)
    dur = rng.choice([0.05, 2.0, 8.0, 20.0], 40)
    cls = rng.choice(["implosion", "humpback", "ship"], 40)
    rows = [
        (i, c, a, a + d, s)
        for i, (c, a, d, s) in enumerate(zip(cls, t, dur, rng.uniform(-3, 25, 40), strict=True))
    ]
    faults = faults_table(
        [("dropout", 100.2, 103.0), ("spike", 900.0, 900.01), ("dc_step", 1500.0, 1510.0)]
    )
    scores = rng.normal(size=n)
    return starts, ends, events_table(rows), faults, scores


def test_step_truth_takes_the_strongest_event_and_counts_a_50_ms_implosion():
    starts = at(np.arange(10.0))
    ends = starts + np.timedelta64(1, "s")
    events = events_table(
        [
            (1, "implosion", 2.5, 2.55, 20.0),  # 50 ms, inside step 2
            (2, "humpback", 1.8, 4.2, 5.0),  # 0.2 s in steps 1 and 4: below the 0.5 s rule
            (3, "ping", 6.0, 7.0, 3.0),  # in a fault step
        ]
    )
    truth = step_truth(starts, ends, events, faults_table([("dropout", 6.5, 6.6)]))
    np.testing.assert_array_equal(np.flatnonzero(truth.is_event), [2, 3, 6])
    assert list(truth.event_class[[2, 3]]) == ["implosion", "humpback"]
    np.testing.assert_array_equal(truth.event_id[[0, 2, 3]], [-1, 1, 2])
    np.testing.assert_array_equal(np.flatnonzero(truth.is_fault), [6])
    np.testing.assert_array_equal(truth.event_evaluated, [True, True, False])


def test_step_truth_reads_pyarrow_tables_of_the_catalog_schema():
    starts = at(np.arange(4.0))
    events = pa.table(events_table([(7, "orca", 1.0, 2.0, 12.0)]))
    faults = pa.table(faults_table([("spike", 3.2, 3.3)]))
    truth = step_truth(starts, starts + np.timedelta64(1, "s"), events, faults)
    np.testing.assert_array_equal(truth.is_event, [False, True, False, False])
    np.testing.assert_array_equal(truth.is_fault, [False, False, False, True])


def test_class_balanced_auc_is_the_mean_of_per_class_sklearn_aucs(random_case):
    starts, ends, events, faults, scores = random_case
    truth = step_truth(starts, ends, events, faults)
    neg = truth.is_negative
    expected = []
    for c in sorted(set(truth.event_class[truth.is_positive])):
        pos = truth.is_positive & (truth.event_class == c)
        sel = pos | neg
        expected.append(roc_auc_score(pos[sel], scores[sel]))
    assert class_balanced_auc(scores, truth) == pytest.approx(np.mean(expected))


def test_event_balanced_auc_gives_each_event_weight_one(random_case):
    starts, ends, events, faults, scores = random_case
    truth = step_truth(starts, ends, events, faults)
    keep = ~truth.is_fault
    weights = np.ones(keep.sum())
    ids = truth.event_id[keep]
    for e in np.unique(ids[ids >= 0]):
        weights[ids == e] = 1.0 / np.sum(ids == e)
    y = truth.is_event[keep]
    expected = roc_auc_score(y, scores[keep], sample_weight=weights)
    assert event_balanced_auc(scores, truth) == pytest.approx(expected)
    assert expected != pytest.approx(roc_auc_score(y, scores[keep]))  # the weights matter


def test_window_auc_and_pauc_follow_sklearn_and_evaluation_conventions(random_case):
    starts, ends, events, faults, scores = random_case
    truth = step_truth(starts, ends, events, faults)
    keep = ~truth.is_fault
    y, s = truth.is_event[keep], scores[keep]
    out = window_auc(scores, truth, max_fpr=0.1)
    assert out["auc"] == pytest.approx(roc_auc_score(y, s))
    assert out["pauc_mcclish"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1))
    perfect = window_auc(truth.is_event.astype(float), truth)
    assert perfect["pauc_normalized"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("starts_s", "lengths_s", "flags", "max_gap_s", "expected"),
    [
        # 5 s windows every 1 s: flagged 0 and 3 overlap, 9 is apart
        (
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [5] * 10,
            [1, 0, 0, 1, 0, 0, 0, 0, 0, 1],
            0.0,
            [(0, 8), (9, 14)],
        ),
        # 1 s steps: touching steps merge, one unflagged step (1 s gap) splits
        ([0, 1, 2, 3, 4], [1] * 5, [1, 1, 0, 1, 1], 0.0, [(0, 2), (3, 5)]),
        # the same gap bridged by max_gap_s
        ([0, 1, 2, 3, 4], [1] * 5, [1, 1, 0, 1, 1], 1.0, [(0, 5)]),
        # a short step inside a long one does not split it; steps given out of order
        ([10, 0, 2, 12], [1, 10, 1, 1], [1, 1, 1, 1], 0.0, [(0, 11), (12, 13)]),
        # nothing flagged
        ([0, 1], [1, 1], [0, 0], 0.0, []),
    ],
)
def test_episodes_merge_overlapping_and_touching_steps(
    starts_s, lengths_s, flags, max_gap_s, expected
):
    starts = at(np.asarray(starts_s, float))
    ends = at(np.asarray(starts_s, float) + np.asarray(lengths_s, float))
    ep = episodes(np.asarray(flags, bool), starts, ends, max_gap_s=max_gap_s)
    got = [
        (float((a - T0) / np.timedelta64(1, "s")), float((b - T0) / np.timedelta64(1, "s")))
        for a, b in zip(ep.start_utc, ep.end_utc, strict=True)
    ]
    assert got == expected
    assert ep.n_steps.sum() == sum(flags)


def test_episodes_report_the_peak_step_and_each_steps_episode():
    starts = at(np.arange(6.0))
    scores = np.array([1.0, 3.0, 0.0, 2.0, 0.0, 5.0])
    ep = episodes(is_anomalous(scores, 0.5), starts, starts + np.timedelta64(1, "s"), scores=scores)
    np.testing.assert_array_equal(ep.peak_index, [1, 3, 5])
    np.testing.assert_array_equal(ep.peak_score, [3.0, 2.0, 5.0])
    np.testing.assert_array_equal(ep.step_episode, [0, 0, -1, 1, -1, 2])


def test_long_episodes_are_cut_into_pieces_of_max_duration():
    starts = at(np.arange(150.0))
    ep = episodes(np.ones(150, bool), starts, starts + np.timedelta64(1, "s"), max_duration_s=60.0)
    np.testing.assert_array_equal(ep.n_steps, [60, 60, 30])


def test_is_anomalous_is_strictly_above_and_never_on_nan():
    np.testing.assert_array_equal(
        is_anomalous(np.array([1.0, 2.0, np.nan]), 1.0), [False, True, False]
    )


def test_audio_hours_count_overlapping_steps_once():
    starts = at(np.array([0.0, 1.0, 2.0, 100.0]))
    assert union_seconds(starts, starts + np.timedelta64(5, "s")) == pytest.approx(12.0)


@pytest.fixture
def hand_case():
    """600 one-second steps, a 10 s fault, three events, two lone false alarms (hand-scored)."""
    starts = at(np.arange(600.0))
    ends = starts + np.timedelta64(1, "s")
    events = events_table(
        [
            (1, "humpback", 100.0, 110.0, 15.0),
            (2, "implosion", 200.02, 200.07, 3.0),
            (3, "ship", 400.0, 420.0, 25.0),
        ]
    )
    faults = faults_table([("dropout", 300.0, 310.0)])
    scores = np.zeros(600)
    scores[100:110] = 5.0  # humpback
    scores[200] = 3.0  # implosion
    scores[400:420] = 1.5  # ship
    scores[50], scores[500] = 4.0, 2.0  # false alarms
    scores[300:310] = 10.0  # the fault: flagged first, never a false alarm
    scores[305] = np.nan  # a fault step may have no score
    return starts, ends, events, faults, scores


HAND_HOURS = 590.0 / 3600.0  # fault steps left out


@pytest.mark.parametrize(
    ("budget", "threshold", "recall", "n_false"),
    [
        (1.0, 4.0, 1 / 3, 0),  # 0.16 FA allowed: only the humpback (score 5 > 4)
        (10.0, 2.0, 2 / 3, 1),  # 1.6 allowed: + the implosion, with the false alarm at step 50
        (20.0, 0.0, 1.0, 2),  # 3.3 allowed: everything above the background
    ],
)
def test_recall_at_budget_matches_the_hand_count(hand_case, budget, threshold, recall, n_false):
    starts, ends, events, faults, scores = hand_case
    truth = step_truth(starts, ends, events, faults)
    op = recall_at_budget(scores, truth, budget_per_hour=budget, max_gap_s=0.0)
    assert op.threshold == threshold
    assert op.recall == pytest.approx(recall)
    assert op.n_false_alarms == n_false
    assert op.n_fault_episodes == 2  # the unscored step 305 splits the fault's flags
    assert op.audio_hours == pytest.approx(HAND_HOURS)
    assert op.false_alarms_per_hour == pytest.approx(n_false / HAND_HOURS)


def test_operating_point_reports_recall_per_class_and_snr_bucket(hand_case):
    starts, ends, events, faults, scores = hand_case
    op = operating_point(scores, step_truth(starts, ends, events, faults), 2.0, max_gap_s=0.0)
    assert {k: v["recall"] for k, v in op.recall_by_class.items()} == {
        "humpback": 1.0,
        "implosion": 1.0,
        "ship": 0.0,
    }
    assert op.recall_by_snr["0to5dB"]["n_detected"] == 1
    assert op.recall_by_snr["ge20dB"] == {"n_events": 1, "n_detected": 0, "recall": 0.0}
    assert np.isnan(op.recall_by_snr["lt0dB"]["recall"])
    assert op.precision == pytest.approx(2 / 3)  # humpback, implosion vs step 50


def test_the_budget_sweep_finds_a_lower_threshold_where_false_alarms_merge_away():
    starts = at(np.arange(100.0))
    scores = np.zeros(100)
    scores[40], scores[41:50], scores[50:55] = (
        3.0,
        1.0,
        2.0,
    )  # a lone peak, then a ramp to the event
    truth = step_truth(
        starts, starts + np.timedelta64(1, "s"), events_table([(1, "orca", 50.0, 55.0, 10.0)]), None
    )
    # at 2 and at 1 the peak at 40 is a false alarm; at 0 it joins the event's episode
    assert operating_point(scores, truth, 1.0, max_gap_s=0.0).n_false_alarms == 1
    op = recall_at_budget(scores, truth, budget_per_hour=1.0, max_gap_s=0.0)
    assert (op.threshold, op.recall, op.n_false_alarms) == (0.0, 1.0, 0)


def test_an_episode_touching_a_fault_is_not_a_false_alarm():
    starts = at(np.arange(40.0))
    ends = starts + np.timedelta64(1, "s")
    scores = np.zeros(40)
    scores[20] = 5.0  # step [20, 21) ends where the fault starts
    events = events_table([])
    touching = step_truth(starts, ends, events, faults_table([("spike", 21.0, 21.5)]))
    apart = step_truth(starts, ends, events, faults_table([("spike", 30.0, 30.5)]))
    assert not touching.is_fault[20]
    op = operating_point(scores, touching, 1.0, max_gap_s=0.0)
    assert (op.n_false_alarms, op.n_fault_episodes) == (0, 1)
    assert operating_point(scores, apart, 1.0, max_gap_s=0.0).n_false_alarms == 1


def test_an_episode_on_the_edge_of_a_call_is_partial_not_a_false_alarm():
    starts = at(np.arange(40.0))
    ends = starts + np.timedelta64(1, "s")
    scores = np.zeros(40)
    scores[20] = 5.0  # step [20, 21) holds the first 0.3 s of the call, below the 0.5 s rule
    near = step_truth(starts, ends, events_table([(1, "orca", 20.7, 22.0, 10.0)]), None)
    far = step_truth(starts, ends, events_table([(1, "orca", 30.7, 32.0, 10.0)]), None)
    assert not near.is_event[20] and near.is_event[21]
    op = operating_point(scores, near, 1.0, max_gap_s=0.0)
    assert (op.n_true_episodes, op.n_partial_episodes, op.n_false_alarms) == (0, 1, 0)
    assert op.recall == 0.0  # the call is not detected by its edge
    assert operating_point(scores, far, 1.0, max_gap_s=0.0).n_false_alarms == 1
    # the budget sweep counts false alarms the same way: the edge costs no budget, so a budget
    # of zero still reaches a second call scored below it
    scores[30] = 2.0
    two = step_truth(starts, ends, events_table([(1, "orca", 20.7, 22.0, 10.0),
                                                 (2, "orca", 30.0, 31.0, 10.0)]), None)  # fmt: skip
    op = recall_at_budget(scores, two, budget_per_hour=0.0, max_gap_s=0.0)
    assert (op.threshold, op.recall, op.n_false_alarms) == (0.0, 0.5, 0)


def test_flagging_everything_does_not_hide_false_alarms_in_one_long_episode():
    starts = at(np.arange(3600.0))
    truth = step_truth(
        starts, starts + np.timedelta64(1, "s"), events_table([(1, "ship", 10.0, 20.0, 9.0)]), None
    )
    op = operating_point(np.ones(3600), truth, 0.0)
    assert op.n_false_alarms == 59  # 60 pieces of 60 s, one holds the ship
    op_budget = recall_at_budget(np.r_[np.ones(3600)], truth, budget_per_hour=1.0)
    assert op_budget.recall == 0.0


def test_evaluate_method_collects_every_number_and_the_model_threshold(random_case):
    starts, ends, events, faults, scores = random_case
    ev = evaluate_method("random", scores, starts, ends, events, faults, threshold=1.5)
    truth = step_truth(starts, ends, events, faults)
    assert ev.class_balanced_auc == pytest.approx(class_balanced_auc(scores, truth))
    assert ev.event_balanced_auc == pytest.approx(event_balanced_auc(scores, truth))
    assert set(ev.auc_by_class) == {"humpback", "implosion", "ship"}
    at_thr = operating_point(scores, truth, 1.5)
    assert ev.at_threshold.false_alarms_per_hour == pytest.approx(at_thr.false_alarms_per_hour)
    assert ev.at_budget.false_alarms_per_hour <= 1.0
    assert 0.0 <= ev.at_budget.recall <= 1.0
    assert "budget_recall" in ev.summary() and "model_false_alarms_per_hour" in ev.summary()


def test_compare_methods_gives_one_row_per_method_for_the_results_table(random_case):
    starts, ends, events, faults, scores = random_case
    truth = step_truth(starts, ends, events, faults)
    oracle = truth.is_event.astype(float) + 0.01 * scores
    rows = compare_methods(
        {"random": scores, "oracle": oracle},
        starts,
        ends,
        events,
        faults,
        thresholds={"oracle": 0.5},
    )
    assert [r["method"] for r in rows] == ["random", "oracle"]
    assert rows[1]["class_balanced_auc"] > 0.99 and rows[1]["recall_at_budget"] > 0.9
    assert np.isnan(rows[0]["false_alarms_per_hour_at_threshold"])
    table = results_table(rows)
    assert table.count("\n") == 3 and "| oracle |" in table and "recall @ <=1 FA/h" in table


def test_metrics_explain_mismatched_shapes_and_nan_scores(random_case):
    starts, ends, events, faults, scores = random_case
    truth = step_truth(starts, ends, events, faults)
    with pytest.raises(EvaluationError, match="must be equal 1-D shapes"):
        class_balanced_auc(scores[:-1], truth)
    bad = scores.copy()
    bad[5] = np.nan
    with pytest.raises(EvaluationError, match="NaN or infinite outside fault steps"):
        evaluate_method("bad", bad, starts, ends, events, faults)
    with pytest.raises(EvaluationError, match="differ"):
        step_truth(starts, ends[:-1], events, faults)
    with pytest.raises(EvaluationError, match="lacks column"):
        step_truth(starts, ends, {"class": ["orca"]}, faults)
    with pytest.raises(EvaluationError, match="end before they start"):
        step_truth(ends, starts, events, faults)
    fault_nan = scores.copy()
    fault_nan[truth.is_fault] = np.nan  # allowed: missing data has no score
    assert np.isfinite(class_balanced_auc(fault_nan, truth))
