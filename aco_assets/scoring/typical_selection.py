"""The typical selection: its rules, the SQL that applies them, and its identity (a row hash).

The design card's rule: whales are less vocal in the evening and in low-traffic months, so take
HST evenings and low-traffic months (each configurable), optionally only a trailing period so
the model follows slow equipment drift, minus windows a reviewer marked as true events.

A selection is named by what it holds, not by the settings that made it: its ``row_hash`` is a
SHA-256 of the selected rows (day, window index, window start, rules, in day and window order)
and its ``selection_id`` the first :data:`SELECTION_ID_LENGTH` hex digits of it. Two settings
that select the same windows give the same selection; the same settings on more data (or after
new reviews) give a new one.

Pure: pyarrow and the standard library.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

HST_OFFSET_HOURS = 10  # HST = UTC - 10 h
SELECTION_ID_LENGTH = 16  # hex digits of the row hash that name a selection
#: The columns of a selected row, in the order they are hashed.
SELECTION_COLUMNS = ("day", "window_index", "window_start", "rules")

__all__ = [
    "HST_OFFSET_HOURS",
    "SELECTION_COLUMNS",
    "SelectionRef",
    "SelectionRules",
    "SelectionSummary",
    "selection_hash",
    "selection_ref",
    "selection_sql",
]


@dataclass(frozen=True)
class SelectionRules:
    """What makes a window typical (the settings of the ``typical_windows`` asset).

    Attributes
    ----------
    evening_hours_hst : local (HST) hours counted as evening
    low_traffic_months : months (1-12) with little whale or ship activity
    combine : a window is typical if ``"any"`` / ``"all"`` of the two rules hold
    trailing_days : only the last N days that have windows (None: all days)
    exclude_reviewed_events : drop windows overlapping reviewer-confirmed events (``reviews``)
    """

    evening_hours_hst: tuple[int, ...] = (18, 19, 20, 21, 22, 23)
    low_traffic_months: tuple[int, ...] = (6, 7, 8, 9)
    combine: Literal["any", "all"] = "any"
    trailing_days: int | None = None
    exclude_reviewed_events: bool = True


@dataclass(frozen=True)
class SelectionRef:
    """Which selection: its id, the hash of its rows and how many windows it holds."""

    selection_id: str
    row_hash: str
    n_windows: int


@dataclass(frozen=True)
class SelectionSummary:
    """What a run of the selection did, for the asset's metadata and check.

    Attributes
    ----------
    ref : the selection written
    n_valid_windows : valid windows of the warehouse it chose from
    per_rule : windows per rule (a window selected by both counts for both)
    per_month : (``YYYY-MM``, windows) in month order
    contamination : share of the selected windows overlapping a catalog event (None: no catalog)
    replaced : the same rows were selected before (their rows replaced, nothing added)
    """

    ref: SelectionRef
    n_valid_windows: int
    per_rule: dict[str, int]
    per_month: tuple[tuple[str, int], ...]
    contamination: float | None
    replaced: bool

    @property
    def typical_share(self) -> float:
        """Selected / valid windows (0 with no valid window)."""
        return self.ref.n_windows / self.n_valid_windows if self.n_valid_windows else 0.0


def selection_sql(rules: SelectionRules) -> str:
    """SELECT of (day, window_index, window_start, window_end, rules) of the typical windows.

    Reads the warehouse's ``windows`` (and ``reviews`` and ``detections`` when reviewed events
    are excluded).
    """
    hours = ", ".join(str(int(h)) for h in rules.evening_hours_hst) or "NULL"
    months = ", ".join(str(int(m)) for m in rules.low_traffic_months) or "NULL"
    joiner = " OR " if rules.combine == "any" else " AND "
    trailing = (
        f"AND w.day > (SELECT max(day) FROM windows) - INTERVAL {int(rules.trailing_days)} DAY"
        if rules.trailing_days
        else ""
    )
    reviewed = (
        """AND NOT EXISTS (
            SELECT 1 FROM reviews r JOIN detections d USING (detection_id)
            WHERE r.verdict = 'true_event' AND w.window_start < d.end_utc
              AND w.window_end > d.start_utc)"""
        if rules.exclude_reviewed_events
        else ""
    )
    return f"""
        WITH flagged AS (
            SELECT w.day, w.window_index, w.window_start, w.window_end,
                   hour(w.window_start - INTERVAL {HST_OFFSET_HOURS} HOUR) IN ({hours}) AS evening,
                   month(w.window_start) IN ({months}) AS low_traffic_month
            FROM windows w
            WHERE w.valid {trailing} {reviewed}
        )
        SELECT day, window_index, window_start, window_end,
               concat_ws(',', CASE WHEN evening THEN 'evening' END,
                              CASE WHEN low_traffic_month THEN 'low_traffic_month' END) AS rules
        FROM flagged WHERE evening{joiner}low_traffic_month
    """


def selection_hash(rows: pa.Table) -> str:
    """SHA-256 (hex) of the selected ``rows``, whatever their order and other columns.

    ``rows`` carries :data:`SELECTION_COLUMNS` (day DATE, window_index INTEGER, window_start
    TIMESTAMP, rules VARCHAR); they are hashed in (day, window_index) order.
    """
    missing = [c for c in SELECTION_COLUMNS if c not in rows.column_names]
    if missing:
        raise ValueError(f"selected rows lack the column(s) {missing} (have {rows.column_names})")
    if rows.num_rows:
        rows = rows.take(
            pc.sort_indices(rows, [("day", "ascending"), ("window_index", "ascending")])
        )
    digest = hashlib.sha256(f"typical-selection/v1/{rows.num_rows}\n".encode())
    for name, arrow_type, as_int in (
        ("day", pa.date32(), pa.int32()),
        ("window_index", pa.int32(), pa.int32()),
        ("window_start", pa.timestamp("us"), pa.int64()),
    ):
        column = rows[name].cast(arrow_type).combine_chunks()
        if column.null_count:
            raise ValueError(f"selected rows hold NULL in {name}")
        digest.update(column.cast(as_int).to_numpy().tobytes())
    digest.update("\x1f".join(str(r) for r in rows["rules"].to_pylist()).encode())
    return digest.hexdigest()


def selection_ref(rows: pa.Table) -> SelectionRef:
    """The :class:`SelectionRef` of ``rows`` (see :func:`selection_hash`)."""
    row_hash = selection_hash(rows)
    return SelectionRef(row_hash[:SELECTION_ID_LENGTH], row_hash, rows.num_rows)
