"""``typical_windows``: the windows the detector learns "typical" from, a versioned selection.

The rules (HST evenings, low-traffic months, a trailing period, minus reviewer-confirmed events)
are :class:`aco_assets.scoring.typical_selection.SelectionRules`; the selection is kept by id
(the hash of its rows) beside the earlier ones, and the latest is current
(:mod:`aco_assets.storage.typical_selection_store`). The materialization's data version is that
id, so the detector (and everything after it) is stale exactly when the selected rows change.
Counts per rule and month are reported, and, when the archive carries a ground-truth catalog,
the share of selected windows that overlap catalog events (the contamination of "typical").

Reviewer verdicts enter the lineage as the observable source asset ``reviewer_verdicts``
(:mod:`aco_assets.defs.review.reviewer_verdicts`), and ``typical_windows`` depends on it, since
windows a reviewer confirmed as events leave the next selection.
"""

from pathlib import Path
from typing import Any, Literal

import dagster as dg

from aco_assets.defs.day_reports import pct
from aco_assets.defs.ingest.spectrograms import SPECTROGRAMS
from aco_assets.defs.resources import StorageResource
from aco_assets.defs.review.reviewer_verdicts import reviewer_verdicts
from aco_assets.reporting.figures import bar_counts, markdown_image, png_bytes
from aco_assets.scoring.typical_selection import SelectionRules, SelectionSummary
from aco_assets.storage.typical_selection_store import select_typical
from aco_assets.synth.catalog import CATALOG_NAME


class TypicalSelectionConfig(dg.Config):
    evening_hours_hst: list[int] = [18, 19, 20, 21, 22, 23]  # local hours counted as evening
    low_traffic_months: list[int] = [6, 7, 8, 9]  # months (1-12) with little whale/ship activity
    combine: Literal["any", "all"] = "any"  # a window is typical if any / all rules hold
    trailing_days: int | None = None  # only the last N days that have windows (None: all)
    exclude_reviewed_events: bool = True  # drop windows overlapping reviewer-confirmed events
    min_typical_windows: int = 500  # fewer fails the enough_typical_windows check (blocks training)

    def rules(self) -> SelectionRules:
        return SelectionRules(
            evening_hours_hst=tuple(self.evening_hours_hst),
            low_traffic_months=tuple(self.low_traffic_months),
            combine=self.combine,
            trailing_days=self.trailing_days,
            exclude_reviewed_events=self.exclude_reviewed_events,
        )


def catalog_path(archive_root: Path) -> Path | None:
    path = archive_root / CATALOG_NAME
    return path if path.exists() else None


@dg.asset(
    deps=[
        dg.AssetDep(SPECTROGRAMS.key, partition_mapping=dg.AllPartitionMapping()),
        reviewer_verdicts,
    ],
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
    """The current selection of typical windows; earlier selections are kept beside it."""
    summary = select_typical(
        storage.warehouse(),
        config.rules(),
        catalog=catalog_path(storage.layout().archive_root),
        settings=config.model_dump(),
    )
    ref = summary.ref
    context.log.info(
        f"{ref.n_windows} typical windows of {summary.n_valid_windows} valid: selection "
        f"{ref.selection_id} ({'the same rows as before, replaced' if summary.replaced else 'new'})"
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(ref.selection_id),
        metadata=selection_metadata(summary, config),
        check_results=[enough_typical_windows(ref.n_windows, minimum=config.min_typical_windows)],
    )


def selection_metadata(summary: SelectionSummary, config: TypicalSelectionConfig) -> dict:
    """The materialization's metadata: counts per rule and month, a plot, the settings."""
    ref = summary.ref
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(
            f"{ref.n_windows} typical windows of {summary.n_valid_windows} valid "
            f"({pct(summary.typical_share)} %), rules: {config.combine} of "
            f"HST evening hours {config.evening_hours_hst} / months {config.low_traffic_months}"
        ),
        "selection_id": ref.selection_id,
        "row_hash": ref.row_hash,
        "selection_replaced": summary.replaced,
        "n_typical": ref.n_windows,
        "n_valid_windows": summary.n_valid_windows,
        "typical_pct": pct(summary.typical_share, digits=2),
        "per_rule": dg.MetadataValue.json(summary.per_rule),
        "per_month": dg.MetadataValue.md(
            "| month | typical windows |\n|---|---|\n"
            + "\n".join(f"| {m} | {n} |" for m, n in summary.per_month)
        ),
        "settings": dg.MetadataValue.json(config.model_dump()),
    }
    if summary.per_month:
        months, counts = zip(*summary.per_month, strict=True)
        figure = bar_counts(list(months), list(counts), title="typical windows per month")
        metadata["per_month_plot"] = dg.MetadataValue.md(
            markdown_image(png_bytes(figure), "typical windows per month")
        )
    if summary.contamination is not None:
        metadata["catalog_contamination_pct"] = pct(summary.contamination, digits=2)
    return metadata


def enough_typical_windows(n_selected: int, *, minimum: int = 500) -> dg.AssetCheckResult:
    """Training needs a few hundred typical windows at least (ERROR: blocks the detector)."""
    return dg.AssetCheckResult(
        check_name="enough_typical_windows",
        passed=n_selected >= minimum,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"n_typical": n_selected, "minimum": minimum},
    )
