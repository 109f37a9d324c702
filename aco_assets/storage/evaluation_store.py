"""What the ``evaluation`` asset reads and writes: warehouse tables, the catalog, MLflow.

:func:`load_evaluation_inputs` gathers a model version's scores, detections, reviews and the
archive's ground truth into :class:`~aco_assets.scoring.version_evaluation.VersionInputs`;
:func:`write_evaluation_metrics` replaces its ``evaluation_metrics`` rows and
:func:`log_evaluation` puts the metrics and figures on the detector's MLflow run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from aco_assets.scoring.methods import METHODS, model_split
from aco_assets.scoring.version_evaluation import HeldOutInputs, VersionInputs
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.typical_selection_store import selection_windows
from aco_assets.storage.warehouse import Warehouse
from aco_assets.synth.catalog import CATALOG_NAME, FAULTS_NAME, read_catalog, read_faults


def evaluation_dir(layout: DataLayout, version: int) -> Path:
    """Full-size evaluation figures of a model version (``roc.png``, ``per_class.png``)."""
    return layout.data_dir / "evaluation" / f"v{version}"


def newest_scored_version(warehouse: Warehouse) -> int:
    """The newest model version that scored windows."""
    found = warehouse.query("SELECT max(model_version) AS v FROM anomaly_scores")["v"][0].as_py()
    if found is None:
        raise ValueError("anomaly_scores is empty: materialize anomaly_scores first")
    return int(found)


def model_row(warehouse: Warehouse, version: int) -> dict[str, Any]:
    """The ``model_versions`` row of ``version``."""
    model = warehouse.query(
        "SELECT * FROM model_versions WHERE model_version = ?", [version]
    ).to_pylist()
    if not model:
        raise ValueError(
            f"model version {version} is not in model_versions: materialize the detector"
        )
    return model[0]


def scored_windows(warehouse: Warehouse, version: int) -> pa.Table:
    """Steps scored by ``version`` that every method scored and no data-quality issue touches
    (``window_start`` / ``window_end``: the scored step's span)."""
    finite = " AND ".join(f"isfinite({c})" for c in METHODS.values())
    return warehouse.query(
        "SELECT day, step_start AS window_start, step_end AS window_end, "
        f"{', '.join(METHODS.values())}, is_anomaly "
        f"FROM anomaly_scores WHERE model_version = ? AND NOT quality_flag AND {finite} "
        "ORDER BY step_start",
        [version],
    )


def alarms_per_day(warehouse: Warehouse, version: int) -> list[tuple[str, int]]:
    """(day, detections) of every day scored by ``version``, in time order (0 for none)."""
    rows = warehouse.query(
        """SELECT s.day, count(d.detection_id) AS n
           FROM (SELECT DISTINCT day FROM anomaly_scores WHERE model_version = ?) s
           LEFT JOIN detections d ON d.day = s.day AND d.model_version = ?
           GROUP BY s.day ORDER BY s.day""",
        [version, version],
    ).to_pylist()
    return [(str(r["day"]), int(r["n"])) for r in rows]


def top_detections(warehouse: Warehouse, version: int, *, limit: int = 10) -> list[dict]:
    """The ``limit`` highest-scoring detections of ``version`` over every day."""
    return warehouse.query(
        "SELECT detection_id, start_utc, end_utc, band, peak_score FROM detections "
        "WHERE model_version = ? ORDER BY peak_score DESC LIMIT ?",
        [version, limit],
    ).to_pylist()


def _trained_on(warehouse: Warehouse, version: int) -> pa.Table:
    """The typical windows (start, end) of the selection ``version`` was trained on; the current
    selection for a version recorded before versions named theirs."""
    row = warehouse.query(
        "SELECT typical_selection_id FROM model_versions WHERE model_version = ?", [version]
    ).to_pylist()
    selection_id = row[0]["typical_selection_id"] if row else None
    if selection_id is not None:  # selections are kept by id, never removed
        return selection_windows(warehouse, selection_id).select(["window_start", "window_end"])
    return warehouse.query(
        "SELECT w.window_start, w.window_end FROM typical_windows t "
        "JOIN windows w USING (day, window_index)"
    )


def _held_out_inputs(layout: DataLayout, warehouse: Warehouse, version: int) -> HeldOutInputs:
    windows = warehouse.query(
        "SELECT day, step_start AS window_start, step_end AS window_end, score, np_error, "
        "latent_nll, combined, recon_error FROM anomaly_scores WHERE model_version = ? "
        "AND isfinite(score) AND isfinite(combined) AND isfinite(recon_error) ORDER BY step_start",
        [version],
    )
    typical = _trained_on(warehouse, version)
    issues = warehouse.query("SELECT file, start_utc, end_utc FROM quality_issues")
    return HeldOutInputs(windows, typical, issues, layout.archive_root)


def load_evaluation_inputs(layout: DataLayout, warehouse: Warehouse, version: int) -> VersionInputs:
    """Everything :func:`~aco_assets.scoring.version_evaluation.evaluate_model_version` reads."""
    model = model_row(warehouse, version)
    windows = scored_windows(warehouse, version)
    days = warehouse.query(
        "SELECT count(DISTINCT day) AS n FROM anomaly_scores WHERE model_version = ?", [version]
    )["n"][0].as_py()
    production = warehouse.query(
        "SELECT start_utc, end_utc, peak_score FROM detections WHERE model_version = ?", [version]
    )
    reviewed = warehouse.query(
        "SELECT d.peak_score, r.verdict = 'true_event' AS is_true FROM reviews r "
        "JOIN detections d USING (detection_id) WHERE d.model_version = ?",
        [version],
    )
    root = layout.archive_root
    catalog_path = root / CATALOG_NAME
    inputs = VersionInputs(
        version, model, windows, days, production, reviewed,
        tuple(alarms_per_day(warehouse, version)), str(catalog_path),
    )  # fmt: skip
    if not (catalog_path.exists() and windows.num_rows):
        return inputs
    faults = read_faults(root) if (root / FAULTS_NAME).exists() else None
    held_out = None
    if model_split(model) is not None:
        held_out = _held_out_inputs(layout, warehouse, version)
    return replace(inputs, catalog=read_catalog(catalog_path), faults=faults, held_out=held_out)


def write_evaluation_metrics(
    warehouse: Warehouse, version: int, rows: Sequence[dict[str, Any]]
) -> None:
    """Replace the ``evaluation_metrics`` rows of ``version`` (stamped with the time now)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(
        [{**r, "model_version": version, "evaluated_at": now} for r in rows]
    )
    warehouse.replace_rows("evaluation_metrics", table, where="model_version = ?", params=[version])


def metric_name(row: dict[str, Any]) -> str:
    """The MLflow name of an ``evaluation_metrics`` row: ``eval.<method>.<metric>[.<subset>]``."""
    name = f"eval.{row['method']}.{row['metric']}"
    return name if row["subset"] == "all" else f"{name}.{row['subset']}"


def log_evaluation(
    client: Any,
    run_id: str | None,
    rows: Sequence[dict[str, Any]],
    figures_dir: Path,
    figures: Sequence[str],
) -> None:
    """The finite metrics of ``rows`` and the ``figures`` PNGs of ``figures_dir`` on the run
    ``run_id`` of an ``MlflowClient`` (artifact path ``evaluation``); nothing without a run."""
    if not run_id:
        return
    from mlflow.entities import Metric

    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    metrics = [
        Metric(metric_name(r), float(r["value"]), now, 0) for r in rows if np.isfinite(r["value"])
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
    for name in figures:
        if (figures_dir / f"{name}.png").exists():
            client.log_artifact(
                run_id, str(figures_dir / f"{name}.png"), artifact_path="evaluation"
            )
