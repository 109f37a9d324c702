"""Typical selections in the warehouse: kept by id, one of them current.

Every selection is kept: its windows in ``typical_selection_windows`` and one row in
``typical_selections``, both keyed by ``selection_id`` (the hash of its rows,
:mod:`aco_assets.scoring.typical_selection`). Selecting the same rows again replaces that
selection's own rows and makes it current again; a different selection is added beside the
earlier ones, nothing overwritten. The current selection is the one selected last; the view
``typical_windows`` holds its windows, so whatever reads ``typical_windows`` reads it only.

Reviewer verdicts (``reviews``) feed the next selection (reviewed true events leave it):
:func:`verdicts_version` names the state of ``reviews`` for the lineage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from aco_assets.scoring.typical_selection import (
    SELECTION_COLUMNS,
    SelectionRef,
    SelectionRules,
    SelectionSummary,
    selection_ref,
    selection_sql,
)
from aco_assets.storage.warehouse import Warehouse

__all__ = [
    "VerdictsVersion",
    "current_selection",
    "select_typical",
    "selection_windows",
    "verdicts_version",
]


def select_typical(
    warehouse: Warehouse,
    rules: SelectionRules,
    *,
    catalog: Path | str | None = None,
    settings: dict[str, Any] | None = None,
) -> SelectionSummary:
    """Select the typical windows by ``rules``, keep them by id, and make them current.

    Parameters
    ----------
    warehouse
        Its ``windows`` (and ``reviews``, ``detections``) are read; ``typical_selections`` and
        ``typical_selection_windows`` written, in one transaction.
    rules
        What makes a window typical.
    catalog
        The archive's ``catalog.parquet`` of acoustic events, if any: the share of selected
        windows overlapping one is the summary's ``contamination``.
    settings
        Recorded with the selection (JSON), e.g. the asset's whole config.
    """
    with warehouse.transaction() as con:
        rows = con.sql(
            f"SELECT {', '.join(SELECTION_COLUMNS)}, window_end FROM ({selection_sql(rules)}) "
            "ORDER BY day, window_index"
        ).to_arrow_table()
        ref = selection_ref(rows)
        n_valid = con.execute("SELECT count(*) FROM windows WHERE valid").fetchall()[0][0]
        replaced = bool(
            con.execute(
                "SELECT count(*) FROM typical_selections WHERE selection_id = ?",
                [ref.selection_id],
            ).fetchall()[0][0]
        )
        keyed = [ref.selection_id]
        con.execute("DELETE FROM typical_selection_windows WHERE selection_id = ?", keyed)
        con.execute("DELETE FROM typical_selections WHERE selection_id = ?", keyed)
        con.register("_selected", rows)
        con.execute(
            "INSERT INTO typical_selection_windows (day, window_index, window_start, rules, "
            "selection_id) SELECT day, window_index, window_start, rules, ? FROM _selected",
            keyed,
        )
        con.execute(
            "INSERT INTO typical_selections (selection_id, row_hash, n_windows, n_valid_windows, "
            "selected_at, settings) VALUES (?, ?, ?, ?, ?, ?)",
            [ref.selection_id, ref.row_hash, ref.n_windows, n_valid, _now(),
             json.dumps(settings or {}, sort_keys=True, default=str)],
        )  # fmt: skip
        per_rule = dict(
            con.execute(
                "SELECT unnest(string_split(rules, ',')) AS rule, count(*) FROM _selected "
                "GROUP BY rule ORDER BY rule"
            ).fetchall()
        )
        per_month = con.execute(
            "SELECT strftime(window_start, '%Y-%m') AS month, count(*) FROM _selected "
            "GROUP BY month ORDER BY month"
        ).fetchall()
        contamination = _contamination(con, catalog)
        con.unregister("_selected")
    return SelectionSummary(
        ref=ref,
        n_valid_windows=int(n_valid),
        per_rule={str(k): int(v) for k, v in per_rule.items()},
        per_month=tuple((str(m), int(n)) for m, n in per_month),
        contamination=contamination,
        replaced=replaced,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _contamination(con, catalog: Path | str | None) -> float | None:
    """Share of the selected windows (``_selected``) overlapping an event of the catalog.

    ``catalog.parquet`` holds acoustic events only (data faults are in ``faults.parquet``).
    """
    if catalog is None:
        return None
    row = con.execute(
        """
        SELECT avg(CASE WHEN EXISTS (
                   SELECT 1 FROM read_parquet(?) c
                   WHERE c.start_utc < t.window_end AND c.end_utc > t.window_start)
               THEN 1.0 ELSE 0.0 END)
        FROM _selected t
        """,
        [str(catalog)],
    ).fetchall()[0]
    return float(row[0]) if row[0] is not None else None


def current_selection(warehouse: Warehouse) -> SelectionRef | None:
    """The current typical selection (the one selected last), or None before the first."""
    rows = warehouse.query(
        "SELECT selection_id, row_hash, n_windows FROM typical_selections "
        "ORDER BY selected_at DESC, selection_id LIMIT 1"
    ).to_pylist()
    if not rows:
        return None
    r = rows[0]
    return SelectionRef(r["selection_id"], r["row_hash"], int(r["n_windows"] or 0))


def selection_windows(warehouse: Warehouse, selection_id: str) -> pa.Table:
    """The windows of one selection (day, window_index, window_start, window_end, rules).

    For a reader that needs the selection a model version was trained on rather than the
    current one; raises ``KeyError`` naming the id when no such selection is kept.
    """
    known = warehouse.query(
        "SELECT count(*) AS n FROM typical_selections WHERE selection_id = ?", [selection_id]
    )
    if not known["n"][0].as_py():
        raise KeyError(f"no typical selection {selection_id!r} in typical_selections")
    return warehouse.query(
        "SELECT t.day, t.window_index, t.window_start, w.window_end, t.rules "
        "FROM typical_selection_windows t JOIN windows w USING (day, window_index) "
        "WHERE t.selection_id = ? ORDER BY t.day, t.window_index",
        [selection_id],
    )


@dataclass(frozen=True)
class VerdictsVersion:
    """The state of ``reviews``: a hash of its verdicts, how many, how many true events."""

    version: str
    n_verdicts: int
    n_true_events: int


def verdicts_version(warehouse: Warehouse) -> VerdictsVersion:
    """A hash of the imported verdicts (``reviews``): it changes whenever an import changes them.

    The hash covers each verdict's detection, start, verdict and class, in a fixed order; who
    imported it and when do not count (re-importing the same verdicts keeps the version).
    """
    rows = warehouse.query(
        "SELECT coalesce(detection_id, '') AS d, coalesce(CAST(begin_utc AS VARCHAR), '') AS b, "
        "verdict AS v, coalesce(class_name, '') AS c FROM reviews ORDER BY d, b, v, c"
    ).to_pylist()
    digest = hashlib.sha256(b"reviews/v1\n")
    for r in rows:
        digest.update("\x1f".join((r["d"], r["b"], r["v"], r["c"])).encode() + b"\n")
    n_true = sum(r["v"] == "true_event" for r in rows)
    return VerdictsVersion(digest.hexdigest()[:16], len(rows), n_true)
