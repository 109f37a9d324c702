"""The detector reference: a typed value with a JSON round trip that reads the stored forms."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from aco_assets.scoring.protocol import TimeSplit
from aco_assets.scoring.reference import DetectorReference, ReferenceError
from aco_assets.signal.features import FrontEndConfig

# a reference.json as the detector wrote it before the reference was typed
STORED = {
    "typical_median_db": [1.5, 2.25, -3.0],
    "typical_levels_db": {"level_broadband_db": [81.25], "level_low_db": [70.5]},
    "front_end": FrontEndConfig().to_dict(),
    "n_typical": 120,
    "level_columns": ["level_broadband_db", "level_low_db"],
    "trained_at": "2026-01-01T00:00:00",
    "split": {"unit": "hour", "train": ["a", "b"], "calibration": ["c"], "test": ["d"]},
}


def test_a_stored_reference_of_the_current_form_reads_and_writes_back_the_same_keys():
    ref = DetectorReference.from_dict(json.loads(json.dumps(STORED)))
    assert ref.front_end == FrontEndConfig()
    assert ref.split == TimeSplit("hour", ("a", "b"), ("c",), ("d",))
    np.testing.assert_array_equal(ref.median_db, [1.5, 2.25, -3.0])
    assert ref.levels_db() == STORED["typical_levels_db"]
    assert ref.model_version is None and ref.threshold is None
    assert ref.to_dict() == STORED


def test_the_json_round_trip_keeps_the_operating_point_and_version():
    ref = dataclasses.replace(
        DetectorReference.from_dict(STORED), typical_selection_id="ab12"
    ).bound(model_version=3, score_name="np", threshold=0.25, budget_per_hour=1.0)
    again = DetectorReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again == ref and again.typical_selection_id == "ab12"
    assert (again.model_version, again.score_name, again.threshold, again.budget_per_hour) == (
        3,
        "np",
        0.25,
        1.0,
    )


def test_a_minimal_reference_takes_defaults():
    ref = DetectorReference.from_dict({"front_end": {}})
    assert ref.front_end == FrontEndConfig() and ref.typical_median_db == () and ref.split is None
    assert ref.levels_db() == {}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"typical_median_db": []}, "front_end"),
        ({**STORED, "split": {"unit": "day"}}, "split.*train"),
    ],
)
def test_an_unreadable_reference_says_what_is_missing(data, match):
    with pytest.raises(ReferenceError, match=match):
        DetectorReference.from_dict(data)
