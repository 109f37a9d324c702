"""Typical selections kept by id in the warehouse, one current (no Dagster)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from aco_assets.scoring.typical_selection import SelectionRules
from aco_assets.storage.typical_selection_store import (
    current_selection,
    select_typical,
    selection_windows,
    verdicts_version,
)
from aco_assets.storage.warehouse import Warehouse
from tests.warehouse_rows import windows

DAY = dt.date(2016, 2, 15)  # February: no low-traffic month
NO_MONTHS = {"low_traffic_months": ()}


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "data" / "aco.duckdb", lock_timeout_s=5)
    wh.replace_rows("windows", windows(DAY, 1440), where="day = ?", params=[DAY])  # 00-02 UTC
    return wh


def _rules(*hours: int) -> SelectionRules:
    return SelectionRules(evening_hours_hst=hours, **NO_MONTHS)


def _typical(wh: Warehouse) -> list[dict]:
    return wh.query("SELECT * FROM typical_windows ORDER BY window_index").to_pylist()


def test_a_selection_is_named_by_its_rows_and_is_current(warehouse):
    assert current_selection(warehouse) is None
    summary = select_typical(warehouse, _rules(14), settings={"evening_hours_hst": [14]})
    ref = summary.ref
    assert ref.n_windows == 720 and summary.n_valid_windows == 1440 and not summary.replaced
    assert summary.per_rule == {"evening": 720} and summary.per_month == (("2016-02", 720),)
    assert summary.typical_share == pytest.approx(0.5) and summary.contamination is None
    assert current_selection(warehouse) == ref
    rows = _typical(warehouse)
    assert len(rows) == 720 and {r["selection_id"] for r in rows} == {ref.selection_id}
    assert ref.row_hash.startswith(ref.selection_id) and len(ref.row_hash) == 64


def test_the_same_rows_replace_their_own_selection_other_rows_are_added(warehouse):
    first = select_typical(warehouse, _rules(14)).ref
    # other settings, the same windows (an hour without files adds none): the same selection
    again = select_typical(warehouse, _rules(14, 20))
    assert again.ref == first and again.replaced
    second = select_typical(warehouse, _rules(15)).ref
    assert second.selection_id != first.selection_id
    kept = warehouse.query(
        "SELECT selection_id, count(*) AS n FROM typical_selection_windows GROUP BY ALL"
    ).to_pylist()
    assert {r["selection_id"]: r["n"] for r in kept} == {
        first.selection_id: 720,
        second.selection_id: 720,
    }
    assert warehouse.query("SELECT count(*) AS n FROM typical_selections")["n"][0].as_py() == 2
    # the view holds the current selection only
    assert current_selection(warehouse) == second
    assert _typical(warehouse)[0]["window_start"].hour == 1  # 15 h HST = 01 h UTC
    # selecting the first rows again makes them current, nothing added
    assert select_typical(warehouse, _rules(14)).replaced
    assert current_selection(warehouse) == first
    assert len(_typical(warehouse)) == 720 and _typical(warehouse)[0]["window_start"].hour == 0
    assert len(selection_windows(warehouse, second.selection_id)) == 720


def test_selection_windows_name_an_unknown_selection(warehouse):
    select_typical(warehouse, _rules(14))
    with pytest.raises(KeyError, match="no typical selection 'nope'"):
        selection_windows(warehouse, "nope")


def test_new_windows_make_a_new_selection(warehouse):
    before = select_typical(warehouse, _rules(14)).ref
    later = DAY + dt.timedelta(days=1)
    warehouse.replace_rows("windows", windows(later, 720), where="day = ?", params=[later])
    after = select_typical(warehouse, _rules(14)).ref
    assert after.selection_id != before.selection_id and after.n_windows == 1440


def test_contamination_is_the_share_of_windows_overlapping_catalog_events(warehouse, tmp_path):
    catalog = tmp_path / "catalog.parquet"
    import pyarrow.parquet as pq

    start = dt.datetime.combine(DAY, dt.time())
    pq.write_table(
        pa.table({"start_utc": [start], "end_utc": [start + dt.timedelta(seconds=36)]}), catalog
    )
    summary = select_typical(warehouse, _rules(14), catalog=catalog)
    assert summary.contamination == pytest.approx(8 / 720)  # windows 0..7 overlap 0-36 s


def test_verdicts_version_changes_when_verdicts_are_imported(warehouse):
    empty = verdicts_version(warehouse)
    assert (empty.n_verdicts, empty.n_true_events) == (0, 0)
    review = pa.table(
        {
            "detection_id": ["20160215-1"],
            "verdict": ["true_event"],
            "source_file": ["a.txt"],
            "reviewer": ["me"],
        }
    )
    warehouse.replace_rows("reviews", review, where="source_file = ?", params=["a.txt"])
    one = verdicts_version(warehouse)
    assert one.version != empty.version and (one.n_verdicts, one.n_true_events) == (1, 1)
    # the same verdicts imported again by someone else: the same version
    warehouse.replace_rows(
        "reviews",
        review.set_column(3, "reviewer", pa.array(["other"])),
        where="source_file = ?",
        params=["a.txt"],
    )
    assert verdicts_version(warehouse) == one
