"""``evaluation``: detection quality of a model version against ground truth, baselines and reviews.

Methods compared on the same windows (valid, finite under every method, no data-quality flag):

=============  ================  =================================================
method         column            what it is
=============  ================  =================================================
production     ``score``         the model's production score (its ``score_name``)
np             ``np_error``      the Neyman-Pearson discriminator alone
gmm_nll        ``latent_nll``    GMM negative log-likelihood of the latent mean
recon_error    ``recon_error``   plain VAE reconstruction error
energy         ``energy_score``  band-limited energy detector (Raven / PAMGuard)
=============  ================  =================================================

Window level (when the archive has ``catalog.parquet``): AUC, pAUC for FPR <= ``max_fpr`` in
two normalisations (``pauc_mcclish``: McClish-standardised, 0.5 = chance, as scikit-learn's
``roc_auc_score(max_fpr=)``; ``pauc_normalized``: area / max_fpr, the DCASE definition, chance =
max_fpr / 2), average precision, and TPR with the realised FPR at the operating threshold: the
model's threshold for ``production``; for every other method the threshold that flags the same
share of windows (an equal alarm budget). Event level: the production detections (table
``detections``); for the others, their flagged windows merged the same way. Recall per class and
per SNR bucket, precision, alarms per day and precision@k. With reviewer verdicts (table
``reviews``), precision@k of the reviewed detections (subset ``reviews``).
"""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa

from aco_assets.defs.anomaly_scores import anomaly_scores
from aco_assets.defs.detections import detections
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.evaluation_summary import (
    alarms_figure,
    alarms_per_day,
    headline,
    top_detections_markdown,
)
from aco_assets.reporting.figures import markdown_image, png_bytes, sparkline_markdown
from aco_assets.scoring.baselines import archive_step_levels, band_energy_scores
from aco_assets.scoring.evaluation import (
    EventMatch,
    match_events,
    per_class_figure,
    precision_at_k,
    roc_figure,
    window_labels,
    window_metrics,
)
from aco_assets.scoring.model_evaluation import evaluate_version, fault_findings
from aco_assets.scoring.protocol import TimeSplit, episode_bounds, unit_keys, utc_micros
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse
from aco_assets.synth.catalog import FAULTS_NAME, read_catalog, read_faults

#: method name -> anomaly_scores column (see the module docstring).
METHODS: dict[str, str] = {
    "production": "score", "np": "np_error", "gmm_nll": "latent_nll",
    "recon_error": "recon_error", "energy": "energy_score",
}  # fmt: skip
WINDOW_METRICS: tuple[str, ...] = (
    "auc", "pauc_mcclish", "pauc_normalized", "average_precision", "tpr", "fpr", "threshold",
    "n_windows", "n_positive",
)  # fmt: skip
FIGURES: tuple[str, ...] = ("roc", "per_class")


class EvaluationConfig(dg.Config):
    model_version: int | None = None  # default: the newest version that scored windows
    max_fpr: float = 0.1  # pAUC limit
    tolerance_s: float = 2.0  # slack when matching detections to catalog events, s
    max_gap_s: float = 5.0  # merging of flagged baseline windows (as the detections asset)
    ks: list[int] = [10, 50, 100]  # precision@k cut-offs


def evaluation_dir(layout: DataLayout, version: int) -> Path:
    """Full-size evaluation figures of a model version (``roc.png``, ``per_class.png``)."""
    return layout.data_dir / "evaluation" / f"v{version}"


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


def baseline_detections(
    windows: pa.Table, column: str, threshold: float, *, max_gap_s: float
) -> dict[str, np.ndarray]:
    """Windows of ``column`` at or above ``threshold`` merged into events (as ``detections``)."""
    start = windows["window_start"].to_numpy().astype("datetime64[us]")
    end = windows["window_end"].to_numpy().astype("datetime64[us]")
    score = windows[column].to_numpy()
    rows = []
    for first, last in episode_bounds(
        start.astype(np.int64), end.astype(np.int64), score > threshold, max_gap_s=max_gap_s
    ):
        span = slice(first, last + 1)
        rows.append(
            {
                "start_utc": start[first],
                "end_utc": end[last],
                "peak_score": float(np.max(score[span])),
            }
        )
    cols = ("start_utc", "end_utc", "peak_score")
    return (
        {c: np.array([r[c] for r in rows]) for c in cols}
        if rows
        else {
            "start_utc": np.array([], "datetime64[us]"),
            "end_utc": np.array([], "datetime64[us]"),
            "peak_score": np.array([], float),
        }
    )


def evaluate_methods(
    windows: pa.Table,
    production: pa.Table,
    catalog: pa.Table,
    *,
    faults: pa.Table | None = None,
    threshold: float,
    n_days: int,
    max_fpr: float,
    tolerance_s: float,
    max_gap_s: float,
    ks: list[int],
) -> tuple[dict[str, dict], dict[str, EventMatch]]:
    """Window metrics and event matches of every method of :data:`METHODS`."""
    labels = window_labels(
        windows["window_start"].to_numpy(), windows["window_end"].to_numpy(), catalog, faults
    )
    flagged_share = float(np.mean(windows["score"].to_numpy() >= threshold))
    keep = ~labels.is_quality
    results, matches = {}, {}
    for method, column in METHODS.items():
        s = windows[column].to_numpy()
        if method == "production":
            thr = threshold
        elif flagged_share > 0:  # the same share of windows flagged as by the production score
            thr = float(np.quantile(s[keep], 1.0 - flagged_share))
        else:
            thr = float("inf")
        results[method] = window_metrics(s, labels, max_fpr=max_fpr, threshold=thr)
        dets = (
            production
            if method == "production"
            else baseline_detections(windows, column, thr, max_gap_s=max_gap_s)
        )
        matches[method] = match_events(
            dets, catalog, faults, tolerance_s=tolerance_s, n_days=n_days, ks=ks
        )
    return results, matches


def metric_rows(results: dict[str, dict], matches: dict[str, EventMatch]) -> list[dict[str, Any]]:
    """``evaluation_metrics`` rows (without model_version / evaluated_at)."""
    rows = [
        {"method": m, "metric": k, "subset": "all", "value": float(r[k])}
        for m, r in results.items()
        for k in WINDOW_METRICS
    ]
    for m, match in matches.items():
        s = match.summary()
        rows += [
            {"method": m, "metric": k, "subset": "all", "value": float(s[k])}
            for k in (
                "event_recall",
                "detection_precision",
                "alarms_per_day",
                "false_alarms_per_day",
                "n_events",
                "n_detections",
            )
        ]
        rows += [
            {"method": m, "metric": f"precision_at_{k}", "subset": "all", "value": v}
            for k, v in match.precision_at_k.items()
        ]
        for subset, table in (*match.recall_by_class.items(), *match.recall_by_snr.items()):
            rows += [
                {"method": m, "metric": "event_recall", "subset": subset, "value": table["recall"]},
                {
                    "method": m,
                    "metric": "n_events",
                    "subset": subset,
                    "value": float(table["n_events"]),
                },
            ]
    return rows


def review_rows(warehouse: Warehouse, version: int, ks: list[int]) -> list[dict[str, Any]]:
    """precision@k of the reviewed production detections of ``version`` (subset ``reviews``)."""
    reviewed = warehouse.query(
        "SELECT d.peak_score, r.verdict = 'true_event' AS is_true FROM reviews r "
        "JOIN detections d USING (detection_id) WHERE d.model_version = ?",
        [version],
    )
    if reviewed.num_rows == 0:
        return []
    p = precision_at_k(reviewed["peak_score"].to_numpy(), reviewed["is_true"].to_numpy(), ks)
    rows = [
        {"method": "production", "metric": f"precision_at_{k}", "subset": "reviews", "value": v}
        for k, v in p.items()
    ]
    is_true = reviewed["is_true"].to_numpy()
    rows.append(
        {
            "method": "production",
            "metric": "n_reviewed",
            "subset": "reviews",
            "value": float(len(is_true)),
        }
    )
    rows.append(
        {
            "method": "production",
            "metric": "precision",
            "subset": "reviews",
            "value": float(is_true.mean()),
        }
    )
    return rows


@dg.asset(
    deps=[
        dg.AssetDep(anomaly_scores, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(detections, partition_mapping=dg.AllPartitionMapping()),
    ],
    pool="duckdb",
    group_name="review",
    kinds={"duckdb", "mlflow"},
)
def evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> dg.MaterializeResult:
    """Score the model version against the archive's catalog, the baselines and the reviewers."""
    layout, warehouse = storage.layout(), storage.warehouse()
    version = config.model_version or _newest_version(warehouse)
    model = warehouse.query(
        "SELECT * FROM model_versions WHERE model_version = ?", [version]
    ).to_pylist()
    if not model:
        raise ValueError(
            f"model version {version} is not in model_versions: materialize the detector"
        )
    windows = scored_windows(warehouse, version)
    days = warehouse.query(
        "SELECT count(DISTINCT day) AS n FROM anomaly_scores WHERE model_version = ?", [version]
    )["n"][0].as_py()
    production = warehouse.query(
        "SELECT start_utc, end_utc, peak_score FROM detections WHERE model_version = ?", [version]
    )
    rows = review_rows(warehouse, version, config.ks)
    rows.append(
        {
            "method": "production",
            "metric": "alarms_per_day",
            "subset": "detections",
            "value": production.num_rows / max(days, 1),
        }
    )
    per_day = alarms_per_day(warehouse, version)
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(""),  # filled in below: the first row of the page
        "alarms": dg.MetadataValue.md(
            sparkline_markdown(
                np.array([n for _, n in per_day], float),
                alt=f"model v{version}: detections per day, {len(per_day)} days in time order",
            )
        ),
        "model_version": version,
        "windows": windows.num_rows,
        "days": days,
        "alarms_per_day": round(production.num_rows / max(days, 1), 2),
        "top_detections": dg.MetadataValue.md(top_detections_markdown(warehouse, version)),
    }
    catalog_path = layout.archive_root / "catalog.parquet"
    has_faults = (layout.archive_root / FAULTS_NAME).exists()
    if catalog_path.exists() and windows.num_rows:
        results, matches = evaluate_methods(
            windows,
            production,
            read_catalog(catalog_path),
            faults=read_faults(layout.archive_root) if has_faults else None,
            threshold=model[0]["threshold"],
            n_days=max(days, 1),
            max_fpr=config.max_fpr,
            tolerance_s=config.tolerance_s,
            max_gap_s=config.max_gap_s,
            ks=config.ks,
        )
        rows += metric_rows(results, matches)
        figures = _figures(
            results, matches, version, config.max_fpr, evaluation_dir(layout, version)
        )
        figures["alarms_per_day"] = alarms_figure(per_day, version, evaluation_dir(layout, version))
        metadata["methods"] = dg.MetadataValue.md(methods_markdown(rows, config.max_fpr))
        metadata["figures"] = dg.MetadataValue.md(
            "\n\n".join(markdown_image(p, n) for n, p in figures.items())
        )
        metadata["figures_dir"] = dg.MetadataValue.path(
            layout.relative(evaluation_dir(layout, version))
        )
        split = model_split(model[0])
        if split is None:
            context.log.info(f"model version {version} records no time split: no held-out figures")
        else:
            summary = held_out_summary(layout, warehouse, version, model[0], split, has_faults)
            path = evaluation_dir(layout, version) / "yardstick.json"
            path.write_text(json.dumps(summary, indent=2, default=float))
            rows += yardstick_rows(summary)
            metadata["held_out"] = dg.MetadataValue.md(held_out_markdown(summary))
            metadata["yardstick"] = dg.MetadataValue.path(layout.relative(path))
    else:
        context.log.info(f"no ground truth at {catalog_path}: only alarm and review metrics")
        if per_day:
            metadata["figures"] = dg.MetadataValue.md(
                markdown_image(
                    alarms_figure(per_day, version, evaluation_dir(layout, version)),
                    "alarms_per_day",
                )
            )
            metadata["figures_dir"] = dg.MetadataValue.path(
                layout.relative(evaluation_dir(layout, version))
            )
    metadata["summary"] = dg.MetadataValue.text(headline(version, days, production.num_rows, rows))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(
        [{**r, "model_version": version, "evaluated_at": now} for r in rows]
    )
    warehouse.replace_rows("evaluation_metrics", table, where="model_version = ?", params=[version])
    _log_to_mlflow(mlflow_resource, model[0]["run_id"], rows, evaluation_dir(layout, version))
    metadata.update({"metrics": len(rows), "mlflow_run_id": model[0]["run_id"] or ""})
    return dg.MaterializeResult(metadata=metadata)


def model_split(model: dict[str, Any]) -> TimeSplit | None:
    """The time split a ``model_versions`` row records (None for versions trained before it)."""
    if not model.get("split_unit"):
        return None
    return TimeSplit(
        unit=model["split_unit"],
        train=tuple(json.loads(model["train_units"])),
        calibration=tuple(json.loads(model["calibration_units"])),
        test=tuple(json.loads(model["test_units"])),
    )


def held_out_summary(
    layout: DataLayout,
    warehouse: Warehouse,
    version: int,
    model: dict[str, Any],
    split: TimeSplit,
    has_faults: bool,
) -> dict[str, Any]:
    """The yardstick of ``version`` on its test and training days, with the energy baselines."""
    windows = warehouse.query(
        "SELECT day, step_start AS window_start, step_end AS window_end, score, np_error, "
        "latent_nll, combined, recon_error FROM anomaly_scores WHERE model_version = ? "
        "AND isfinite(score) AND isfinite(combined) AND isfinite(recon_error) ORDER BY step_start",
        [version],
    )
    days = sorted(set(windows["day"].to_pylist()))
    typical = warehouse.query(
        "SELECT w.window_start, w.window_end FROM typical_windows t "
        "JOIN windows w USING (day, window_index)"
    )
    t_start = utc_micros(typical["window_start"])
    in_train = np.isin(unit_keys(t_start, split.unit), list(split.train))
    t_start, t_end = t_start[in_train], utc_micros(typical["window_end"])[in_train]
    energy = {}
    for step, steps in archive_step_levels(layout.archive_root, days, steps_s=(1.0, 5.0)).items():
        reference = steps.inside(t_start, t_end)
        energy[f"energy_{step:g}s"] = (steps, band_energy_scores(steps, reference))
    faults = read_faults(layout.archive_root) if has_faults else None
    summary = evaluate_version(
        windows,
        energy,
        split,
        read_catalog(layout.archive_root),
        faults,
        threshold=float(model["threshold"]),
        budget_per_hour=float(model.get("false_alarms_per_hour") or 1.0),
    )
    issues = warehouse.query("SELECT file, start_utc, end_utc FROM quality_issues")
    summary |= {
        key: model.get(key)
        for key in ("model_version", "score_name", "threshold", "threshold_rule",
                    "heldout_false_alarms_per_hour", "heldout_hours", "checks_passed")
    }  # fmt: skip
    summary["faults"] = fault_findings(faults, issues)
    return summary


def yardstick_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``evaluation_metrics`` rows of the held-out summary: subset ``<part>`` or
    ``<part>:<class or SNR bucket>``."""
    rows = []
    for part, data in summary["parts"].items():
        for method, figures in data["methods"].items():
            for metric, value in figures.items():
                if isinstance(value, dict):
                    rows += [
                        {"method": method, "metric": metric, "subset": f"{part}:{k}",
                         "value": float(v)}
                        for k, v in value.items()
                    ]  # fmt: skip
                else:
                    rows.append(
                        {"method": method, "metric": metric, "subset": part, "value": float(value)}
                    )
    return rows


def held_out_markdown(summary: dict[str, Any]) -> str:
    """The held-out table of the Dagster metadata: one row per method."""
    part = summary["parts"].get("test", {})
    cols = [("class-balanced AUC", "class_balanced_auc"), ("event-balanced AUC",
            "event_balanced_auc"), ("pAUC", "pauc"), ("recall @ budget", "recall_at_budget"),
            ("FA/h at threshold", "fa_per_hour_at_threshold")]  # fmt: skip
    lines = [
        f"Held-out days, {part.get('hours', float('nan')):.2f} h of audio, budget "
        f"{summary['budget_per_hour']:g} false alarm(s)/h",
        "",
        "| method | " + " | ".join(c for c, _ in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for method, fig in part.get("methods", {}).items():
        cells = [f"{fig[k]:.3f}" if k in fig else "-" for _, k in cols]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _newest_version(warehouse: Warehouse) -> int:
    found = warehouse.query("SELECT max(model_version) AS v FROM anomaly_scores")["v"][0].as_py()
    if found is None:
        raise ValueError("anomaly_scores is empty: materialize anomaly_scores first")
    return int(found)


def methods_markdown(rows: list[dict[str, Any]], max_fpr: float) -> str:
    """The per-method table (window and event metrics, subset ``all``) as Markdown."""
    value = {(r["method"], r["metric"]): r["value"] for r in rows if r["subset"] == "all"}
    cols = [
        ("AUC", "auc"),
        (f"pAUC<={max_fpr:g} (McClish)", "pauc_mcclish"),
        (f"pAUC<={max_fpr:g} (/max_fpr)", "pauc_normalized"),
        ("AP", "average_precision"),
        ("TPR", "tpr"),
        ("FPR", "fpr"),
        ("event recall", "event_recall"),
        ("precision", "detection_precision"),
        ("alarms/day", "alarms_per_day"),
        ("P@10", "precision_at_10"),
    ]
    lines = ["| method | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in METHODS:
        lines.append(
            f"| {m} | "
            + " | ".join(f"{value.get((m, k), float('nan')):.3f}" for _, k in cols)
            + " |"
        )
    return "\n".join(lines)


def _figures(
    results: dict, matches: dict, version: int, max_fpr: float, directory: Path
) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    small = {}
    figs = {
        "roc": roc_figure(results, max_fpr=max_fpr, title=f"model v{version}: window ROC"),
        "per_class": per_class_figure(matches, title=f"model v{version}: event recall"),
    }
    for name, fig in figs.items():
        fig.savefig(directory / f"{name}.png", dpi=100)
        small[name] = png_bytes(fig, dpi=40)
    return small


def _log_to_mlflow(
    resource: MlflowResource, run_id: str | None, rows: list[dict[str, Any]], figures_dir: Path
) -> None:
    """Metrics ``eval.<method>.<metric>[.<subset>]`` and the figures on the detector's run."""
    if not run_id:
        return
    from mlflow.entities import Metric

    client = resource.client()
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    metrics = [
        Metric(_metric_name(r), float(r["value"]), now, 0) for r in rows if np.isfinite(r["value"])
    ]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
    for name in FIGURES:
        if (figures_dir / f"{name}.png").exists():
            client.log_artifact(
                run_id, str(figures_dir / f"{name}.png"), artifact_path="evaluation"
            )


def _metric_name(row: dict[str, Any]) -> str:
    name = f"eval.{row['method']}.{row['metric']}"
    return name if row["subset"] == "all" else f"{name}.{row['subset']}"
