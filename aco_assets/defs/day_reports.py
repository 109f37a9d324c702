"""What a per-day asset tells the Dagster UI, one day at a time, also in a multi-day run.

A single-run backfill materializes many days in one step, but a ``MaterializeResult`` carries one
set of metadata, which Dagster copies onto the materialization of every day of the range. The
supported way to give each day its own (Dagster 1.13) is
``context.add_asset_metadata(metadata, partition_key=day)``: the step still records one
materialization per partition key, each merged with its own day's metadata. Day checks are
partitioned (``AssetCheckSpec(partitions_def=...)``) and reported as one
``AssetCheckEvaluation`` per day, after the materializations they refer to, so a check's
partition page shows that day's result instead of a single range-wide one.

A data version is one per step in Dagster 1.13 (``MaterializeResult.data_version`` is shared by
every partition of the run): a day's own content is named by its metadata instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from aco_assets.defs.partitions import daily_partitions


def day_check_spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    """A check evaluated once per UTC day (its partition), with the text the UI shows."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, description=description, partitions_def=daily_partitions
        )


@dataclass(frozen=True)
class DayCheck:
    """The outcome of a day check for one day."""

    passed: bool
    description: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN


def report_day(
    context: dg.AssetExecutionContext,
    day: dt.date,
    metadata: Mapping[str, Any],
    *,
    asset: str | None = None,
):
    """Attach ``metadata`` to the materialization of ``day`` only (of ``asset``, in a step that
    materializes several)."""
    key = dg.AssetKey(asset) if asset else None
    context.add_asset_metadata(dict(metadata), asset_key=key, partition_key=day.isoformat())


def day_results(
    context: dg.AssetExecutionContext,
    checks: Mapping[str, Mapping[dt.date, DayCheck]],
    *,
    data_version: dg.DataVersion | None = None,
) -> Iterator[dg.MaterializeResult | dg.Output | dg.AssetCheckEvaluation]:
    """What the asset body yields last: the materializations (one per day of each selected
    asset, each with the metadata given to :func:`report_day`), then one evaluation per day of
    each selected check, on the asset its spec names."""
    many = len(context.assets_def.keys) > 1
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        yield dg.MaterializeResult(asset_key=key if many else None, data_version=data_version)
    selected = {k.name for k in context.selected_asset_check_keys}
    specs = context.assets_def.check_specs_by_output_name.items()
    for output_name, spec in specs:
        if spec.name in selected:
            yield dg.Output(None, output_name=output_name)
    by_name = {spec.name: spec.asset_key for _, spec in specs}
    for name, per_day in checks.items():
        if name not in selected:
            continue
        for day, result in per_day.items():
            yield dg.AssetCheckEvaluation(
                asset_key=by_name[name],
                check_name=name,
                passed=result.passed,
                partition=day.isoformat(),
                metadata=dict(result.metadata),
                severity=result.severity,
                description=result.description,
                target_materialization_data=_latest_materialization(context, by_name[name], day),
            )


def _latest_materialization(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, day: dt.date
) -> AssetCheckEvaluationTargetMaterializationData | None:
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[day.isoformat()]), limit=1
    ).records
    if not records:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=records[0].storage_id,
        run_id=records[0].run_id,
        timestamp=records[0].timestamp,
    )


def pct(share: float | None, *, digits: int = 1) -> float | None:
    """A share (0..1) as a percentage rounded for people (None stays None)."""
    return None if share is None else round(100.0 * share, digits)


def sig(value: float, *, digits: int = 4) -> float:
    """``value`` to ``digits`` significant figures (no 0.05706438815990235 in the UI)."""
    return float(f"{value:.{digits}g}")
