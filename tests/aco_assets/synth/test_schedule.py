"""Seasonal and diel rules, file slots and event placement."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from aco_assets.synth import EVENT_CLASSES, plan_events
from aco_assets.synth.schedule import file_starts, hst_hour, is_evening, rate_per_hour

# (class, months in which it must never occur)
ABSENT = [
    ("humpback", (6, 7, 8, 9, 10, 11)),  # December to May only
    ("blue_whale", (4, 5, 6, 7, 8, 9, 10)),  # November to March only
    ("minke", (6, 7, 8, 9)),  # October to May
]


@pytest.mark.parametrize(("label", "months"), ABSENT)
def test_seasonal_classes_are_never_planned_outside_their_months(label, months):
    rng = np.random.default_rng(0)
    for month in range(1, 13):
        start = dt.datetime(2016, month, 10, 20)
        planned = [
            e.label for _ in range(40) for e in plan_events(start, 300.0, rng, rate_scale=20)
        ]
        if month in months:
            assert label not in planned, f"{label} planned in month {month}"
            assert rate_per_hour(label, start) == 0.0
        else:
            assert label in planned, f"{label} never planned in month {month}"


def test_humpback_peaks_in_march_and_every_class_is_quieter_or_equal_in_evenings():
    assert rate_per_hour("humpback", dt.datetime(2017, 3, 1, 20)) == max(
        rate_per_hour("humpback", dt.datetime(2017, m, 1, 20)) for m in range(1, 13)
    )
    for label in EVENT_CLASSES:
        day = rate_per_hour(label, dt.datetime(2017, 2, 1, 20))  # 10:00 HST
        evening = rate_per_hour(label, dt.datetime(2017, 2, 1, 6))  # 20:00 HST
        assert evening <= day


def test_ships_are_fewer_in_the_low_traffic_months():
    assert rate_per_hour("ship", dt.datetime(2016, 7, 1, 20)) < rate_per_hour(
        "ship", dt.datetime(2016, 2, 1, 20)
    )


def test_hst_is_utc_minus_ten_and_evening_is_18_to_24_hst():
    assert hst_hour(dt.datetime(2016, 1, 1, 4)) == 18.0
    assert is_evening(dt.datetime(2016, 1, 1, 4)) and is_evening(dt.datetime(2016, 1, 1, 9, 55))
    assert not is_evening(dt.datetime(2016, 1, 1, 10)) and not is_evening(
        dt.datetime(2016, 1, 1, 3)
    )


@pytest.mark.parametrize("files_per_day", [1, 3, 8, 288])
def test_file_slots_are_on_5_minute_boundaries_and_include_an_evening(files_per_day):
    starts = file_starts(dt.date(2016, 2, 1), files_per_day)
    assert len(starts) == len(set(starts)) == files_per_day
    assert all(
        t.minute % 5 == 0 and t.second == 0 and t.date() == dt.date(2016, 2, 1) for t in starts
    )
    assert any(is_evening(t) for t in starts)
    if files_per_day >= 3:
        assert any(10 <= hst_hour(t) < 17 for t in starts)  # and daytime


def test_planned_events_lie_inside_the_file_and_draw_snrs_across_the_range():
    rng = np.random.default_rng(1)
    planned = [e for _ in range(200) for e in plan_events(dt.datetime(2017, 3, 1, 20), 300.0, rng)]
    assert planned
    assert all(0.0 <= e.offset_s and e.offset_s + e.duration_s <= 300.0 for e in planned)
    snrs = np.array([e.snr_db for e in planned if e.label != "glitch_dropout"])
    assert snrs.min() < 0.0 and snrs.max() > 12.0
