"""``typical_windows``: the windows the detector learns "typical" from.

The design card's rule: whales are less vocal in the evening and in low-traffic months, so take
HST evenings and low-traffic months (each configurable), optionally only a trailing period so
the model follows slow equipment drift, minus windows a reviewer marked as true events. Counts
per rule and month are reported, and, when the archive carries a ground-truth catalog, the
share of selected windows that overlap catalog events (the contamination of "typical").
"""

import hashlib
import json
from pathlib import Path
from typing import Literal

import dagster as dg

from aco_assets.defs.day_reports import pct
from aco_assets.defs.resources import StorageResource
from aco_assets.defs.spectrograms import spectrograms
from aco_assets.reporting.figures import bar_counts, markdown_image, png_bytes

HST_OFFSET_HOURS = 10  # HST = UTC - 10 h


class TypicalSelectionConfig(dg.Config):
    evening_hours_hst: list[int] = [18, 19, 20, 21, 22, 23]  # local hours counted as evening
    low_traffic_months: list[int] = [6, 7, 8, 9]  # months (1-12) with little whale/ship activity
    combine: Literal["any", "all"] = "any"  # a window is typical if any / all rules hold
    trailing_days: int | None = None  # only the last N days that have windows (None: all)
    exclude_reviewed_events: bool = True  # drop windows overlapping reviewer-confirmed events
    min_typical_windows: int = 500  # fewer fails the enough_typical_windows check (blocks training)

    def selection_id(self) -> str:
        return hashlib.sha1(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:12]


def selection_sql(config: TypicalSelectionConfig) -> str:
    """SELECT of (day, window_index, window_start, rules) for the typical windows."""
    hours = ", ".join(str(int(h)) for h in config.evening_hours_hst) or "NULL"
    months = ", ".join(str(int(m)) for m in config.low_traffic_months) or "NULL"
    joiner = " OR " if config.combine == "any" else " AND "
    trailing = (
        f"AND w.day > (SELECT max(day) FROM windows) - INTERVAL {int(config.trailing_days)} DAY"
        if config.trailing_days
        else ""
    )
    reviewed = (
        """AND NOT EXISTS (
            SELECT 1 FROM reviews r JOIN detections d USING (detection_id)
            WHERE r.verdict = 'true_event' AND w.window_start < d.end_utc AND w.window_end > d.start_utc)"""
        if config.exclude_reviewed_events
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


def catalog_path(archive_root: Path) -> Path | None:
    path = archive_root / "catalog.parquet"
    return path if path.exists() else None


@dg.asset(
    deps=[dg.AssetDep(spectrograms, partition_mapping=dg.AllPartitionMapping())],
    pool="duckdb",
    group_name="model",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "enough_typical_windows",
            asset="typical_windows",
            blocking=True,
            description="The selection holds at least min_typical_windows windows (500 by "
            "default); fewer fails with ERROR and blocks training the detector. Widen the rules "
            "(evening hours, months) or process more days.",
        )
    ],
)
def typical_windows(
    context: dg.AssetExecutionContext, config: TypicalSelectionConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """The training selection of typical windows, replaced as a whole on every run."""
    layout, warehouse = storage.layout(), storage.warehouse()
    selection_id = config.selection_id()
    with warehouse.transaction() as con:
        con.execute("DELETE FROM typical_windows")
        con.execute(
            f"INSERT INTO typical_windows SELECT day, window_index, window_start, rules, ? "
            f"FROM ({selection_sql(config)})",
            [selection_id],
        )
        n_valid = con.execute("SELECT count(*) FROM windows WHERE valid").fetchone()[0]
        per_rule = dict(
            con.execute(
                "SELECT unnest(string_split(rules, ',')) AS rule, count(*) FROM typical_windows GROUP BY rule"
            ).fetchall()
        )
        per_month = con.execute(
            "SELECT strftime(window_start, '%Y-%m') AS month, count(*) FROM typical_windows "
            "GROUP BY month ORDER BY month"
        ).fetchall()
        n_selected = con.execute("SELECT count(*) FROM typical_windows").fetchone()[0]
        contamination = _contamination(con, catalog_path(layout.archive_root))
    context.log.info(f"{n_selected} typical windows of {n_valid} valid")
    metadata = {
        "summary": dg.MetadataValue.text(
            f"{n_selected} typical windows of {n_valid} valid "
            f"({pct(n_selected / n_valid if n_valid else 0.0)} %), rules: {config.combine} of "
            f"HST evening hours {config.evening_hours_hst} / months {config.low_traffic_months}"
        ),
        "selection_id": selection_id,
        "n_typical": n_selected,
        "n_valid_windows": n_valid,
        "typical_pct": pct(n_selected / n_valid if n_valid else 0.0, digits=2),
        "per_rule": dg.MetadataValue.json(per_rule),
        "per_month": dg.MetadataValue.md(
            "| month | typical windows |\n|---|---|\n"
            + "\n".join(f"| {m} | {n} |" for m, n in per_month)
        ),
        "settings": dg.MetadataValue.json(config.model_dump()),
    }
    if per_month:
        metadata["per_month_plot"] = dg.MetadataValue.md(
            markdown_image(
                png_bytes(
                    bar_counts(
                        [m for m, _ in per_month],
                        [n for _, n in per_month],
                        title="typical windows per month",
                    )
                ),
                "typical windows per month",
            )
        )
    if contamination is not None:
        metadata["catalog_contamination_pct"] = pct(contamination, digits=2)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[enough_typical_windows(n_selected, minimum=config.min_typical_windows)],
    )


def _contamination(con, catalog: Path | None) -> float | None:
    """Share of typical windows overlapping an acoustic event of the ground-truth catalog.

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
        FROM (SELECT t.*, w.window_end FROM typical_windows t JOIN windows w USING (day, window_index)) t
        """,
        [str(catalog)],
    ).fetchone()
    return float(row[0]) if row[0] is not None else None


def enough_typical_windows(n_selected: int, *, minimum: int = 500) -> dg.AssetCheckResult:
    """Training needs a few hundred typical windows at least (ERROR: blocks the detector)."""
    return dg.AssetCheckResult(
        check_name="enough_typical_windows",
        passed=n_selected >= minimum,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"n_typical": n_selected, "minimum": minimum},
    )
