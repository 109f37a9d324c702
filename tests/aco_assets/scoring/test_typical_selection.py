"""The typical selection's rules (SQL) and its identity, the hash of its rows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from aco_assets.scoring.typical_selection import (
    SelectionRules,
    selection_hash,
    selection_ref,
    selection_sql,
)

T0 = dt.datetime(2016, 2, 15)


def rows(n: int, rules: str = "evening") -> pa.Table:
    return pa.table(
        {
            "day": pa.array([T0.date()] * n, pa.date32()),
            "window_index": pa.array(range(n), pa.int32()),
            "window_start": pa.array(
                [T0 + dt.timedelta(seconds=5 * i) for i in range(n)], pa.timestamp("us")
            ),
            "rules": [rules] * n,
        }
    )


def test_the_hash_is_of_the_rows_in_any_order_and_ignores_other_columns():
    table = rows(5)
    shuffled = table.take([3, 0, 4, 1, 2]).append_column("window_end", pa.array([1] * 5))
    assert selection_hash(shuffled) == selection_hash(table)
    ref = selection_ref(table)
    assert ref.selection_id == ref.row_hash[:16] and ref.n_windows == 5


def test_the_hash_changes_with_any_row():
    base = selection_hash(rows(5))
    assert selection_hash(rows(4)) != base
    assert selection_hash(rows(5, rules="evening,low_traffic_month")) != base
    moved = rows(5).set_column(
        2,
        "window_start",
        pa.array([T0 + dt.timedelta(seconds=5 * i + 1) for i in range(5)], pa.timestamp("us")),
    )
    assert selection_hash(moved) != base
    assert selection_hash(rows(0)) != base


def test_the_hash_names_missing_columns_and_nulls():
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['rules'\]"):
        selection_hash(rows(2).drop_columns(["rules"]))
    nulls = rows(2).set_column(1, "window_index", pa.array([1, None], pa.int32()))
    with pytest.raises(ValueError, match="NULL in window_index"):
        selection_hash(nulls)


def test_the_sql_follows_the_rules():
    sql = selection_sql(SelectionRules(evening_hours_hst=(19, 3), low_traffic_months=(7,)))
    assert "IN (19, 3)" in sql and "IN (7)" in sql and "evening OR low_traffic_month" in sql
    assert "reviews" in sql and "INTERVAL" in sql
    strict = selection_sql(
        SelectionRules(combine="all", trailing_days=30, exclude_reviewed_events=False)
    )
    assert "evening AND low_traffic_month" in strict and "INTERVAL 30 DAY" in strict
    assert "reviews" not in strict
    assert "IN (NULL)" in selection_sql(SelectionRules(evening_hours_hst=()))
