"""The evaluation protocol: time splits, the false-alarm budget and its two-sided check."""

from __future__ import annotations

import numpy as np
import pytest

from aco_assets.scoring.protocol import (
    ProtocolError,
    audio_hours,
    budget_check,
    choose_unit,
    count_episodes,
    episode_peaks,
    is_anomalous,
    split_units,
    threshold_for_budget,
    unit_keys,
)

S = 1_000_000  # microseconds per second


def steps(n: int, *, step_s: float = 5.0, length_s: float = 5.0, t0_s: float = 0.0):
    start = (t0_s + np.arange(n) * step_s) * S
    return start.astype(np.int64), (start + length_s * S).astype(np.int64)


def test_the_anomaly_rule_is_strictly_above_and_never_nan():
    flags = is_anomalous(np.array([1.0, 2.0, np.nan, 3.0]), 2.0)
    assert flags.tolist() == [False, False, False, True]


def test_a_split_puts_every_unit_in_exactly_one_part_and_spreads_the_test_days():
    days = [f"2016-02-{d:02d}" for d in range(1, 11)]
    split = split_units(days, calibration_share=0.2, test_share=0.3, seed=1)
    parts = [set(split.train), set(split.calibration), set(split.test)]
    assert set().union(*parts) == set(days)
    assert sum(len(p) for p in parts) == len(days)
    assert (len(split.test), len(split.calibration)) == (3, 2)
    test = sorted(split.test)
    assert test[0] <= "2016-02-04" and test[-1] >= "2016-02-07"  # not bunched at one end
    assert split.part_of(["2016-02-30", test[0]]).tolist() == [-1, 2]


def test_a_split_is_deterministic_for_a_seed():
    days = [f"2017-03-{d:02d}" for d in range(1, 8)]
    assert split_units(days, seed=3) == split_units(days, seed=3)


def test_fewer_than_three_units_cannot_be_split():
    with pytest.raises(ProtocolError, match="only 2 day"):
        split_units(["2016-01-01", "2016-01-02"])


def test_the_unit_is_the_day_from_three_days_on_else_the_hour():
    start, _ = steps(3, step_s=86400.0)
    assert choose_unit(start) == "day"
    assert choose_unit(start[:2]) == "hour"
    assert unit_keys(start[:1], "hour").tolist() == ["1970-01-01T00"]


def test_audio_hours_count_overlapping_steps_once():
    start, end = steps(720, step_s=1.0)  # 5 s windows every 1 s: 724 s of audio
    assert audio_hours(start, end) == pytest.approx(724 / 3600)
    gap_start = np.array([0, 100 * S]), np.array([10 * S, 110 * S])
    assert audio_hours(*gap_start) == pytest.approx(20 / 3600)


def test_episodes_merge_overlapping_and_close_steps_only():
    start, end = steps(10, step_s=1.0)  # overlapping 5 s windows
    flags = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1], bool)
    # windows 0-2 end at 7 s; window 9 starts at 9 s: 2 s apart
    assert count_episodes(start, end, flags, max_gap_s=0.0) == 2
    assert count_episodes(start, end, flags, max_gap_s=2.0) == 1
    peaks = episode_peaks(np.arange(10.0), start, end, 0.5, max_gap_s=0.0)
    assert peaks.tolist() == [9.0]  # every step above 0.5 overlaps the next: one episode


def test_the_budget_threshold_raises_at_most_the_budget_on_long_calibration_time():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=720 * 20)  # 20 h of 5 s windows
    start, end = steps(scores.size)
    b = threshold_for_budget(scores, start, end, budget_per_hour=2.0, max_gap_s=5.0)
    assert b.method == "empirical" and b.hours == pytest.approx(20.0)
    assert b.n_episodes <= 40
    assert count_episodes(start, end, scores > b.threshold - 1e-9, max_gap_s=5.0) >= 38


def test_the_tail_fit_extrapolates_a_budget_the_calibration_time_cannot_see():
    rng = np.random.default_rng(1)
    start, end = steps(720 * 40)
    scores = rng.exponential(size=start.size)  # exceedance rate 720 exp(-t) per hour
    short = slice(0, 3 * 720)  # three hours: 1.5 budgeted alarms are too few to read off
    b = threshold_for_budget(
        scores[short], start[short], end[short], budget_per_hour=0.5, max_gap_s=0.0
    )
    assert b.method == "tail_fit"
    assert b.threshold == pytest.approx(np.log(720 / 0.5), abs=0.6)  # the true 0.5/h point
    realised = count_episodes(start, end, scores > b.threshold, max_gap_s=0.0) / 40
    assert 0.15 < realised < 1.5


@pytest.mark.parametrize(
    ("n_alarms", "hours", "passed"),
    [
        (10, 10.0, True),  # on budget
        (0, 1.0, True),  # one hour cannot tell 0 from 1 alarm
        (0, 20.0, False),  # threshold far too high: silent for 20 h
        (60, 10.0, False),  # threshold far too low
        (4, 2.0, True),  # 2 / h is inside the interval of 4 in 2 h
    ],
)
def test_the_budget_check_is_two_sided_and_sized_for_the_held_out_time(n_alarms, hours, passed):
    check = budget_check(n_alarms, hours, 1.0)
    assert check.passed is passed
    assert check.ci_low_per_hour <= check.rate_per_hour <= check.ci_high_per_hour


def test_the_budget_check_needs_held_out_time():
    with pytest.raises(ProtocolError, match="no held-out typical time"):
        budget_check(0, 0.0, 1.0)


def test_a_non_positive_budget_is_refused():
    start, end = steps(10)
    with pytest.raises(ProtocolError, match="must be > 0"):
        threshold_for_budget(np.ones(10), start, end, budget_per_hour=0.0, max_gap_s=5.0)


def test_an_episode_longer_than_the_limit_counts_one_alarm_per_started_piece():
    start, end = steps(36)  # three minutes of touching 5 s windows, all flagged
    flags = np.ones(36, bool)
    assert count_episodes(start, end, flags, max_gap_s=5.0) == 3  # pieces of 60 s
    from aco_assets.scoring.protocol import episode_bounds

    assert episode_bounds(start, end, flags, max_gap_s=5.0, max_episode_s=None) == [(0, 35)]
