"""The methods the ``evaluation`` asset compares on the same windows, and its metric rows.

=============  ================  =================================================
method         column            what it is
=============  ================  =================================================
production     ``score``         the model's production score (its ``score_name``)
np             ``np_error``      the Neyman-Pearson discriminator alone
gmm_nll        ``latent_nll``    GMM negative log-likelihood of the latent mean
recon_error    ``recon_error``   plain VAE reconstruction error
energy         ``energy_score``  band-limited energy detector (Raven / PAMGuard)
=============  ================  =================================================

Window level: the metrics of :func:`aco_assets.scoring.evaluation.window_metrics` at the
operating threshold, the model's for ``production``, for every other method the threshold that
flags the same share of windows (an equal alarm budget); a window is flagged by the project's
rule :func:`~aco_assets.scoring.protocol.is_anomalous`. Event level: the production detections;
for the others, their flagged windows merged the same way (:func:`baseline_detections`). The
results become ``evaluation_metrics`` rows (``method, metric, subset, value``). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from aco_assets.scoring.evaluation import precision_at_k, window_labels, window_metrics
from aco_assets.scoring.event_matching import EventMatch, match_events
from aco_assets.scoring.protocol import TimeSplit, episode_bounds, is_anomalous

#: method name -> anomaly_scores column (see the module docstring).
METHODS: dict[str, str] = {
    "production": "score", "np": "np_error", "gmm_nll": "latent_nll",
    "recon_error": "recon_error", "energy": "energy_score",
}  # fmt: skip
WINDOW_METRICS: tuple[str, ...] = (
    "auc", "pauc_mcclish", "pauc_normalized", "average_precision", "tpr", "fpr", "threshold",
    "n_windows", "n_positive",
)  # fmt: skip
EVENT_METRICS: tuple[str, ...] = (
    "event_recall", "detection_precision", "alarms_per_day", "false_alarms_per_day", "n_events",
    "n_detections",
)  # fmt: skip


def row(method: str, metric: str, subset: str, value: float) -> dict[str, Any]:
    """One ``evaluation_metrics`` row (without model_version / evaluated_at)."""
    return {"method": method, "metric": metric, "subset": subset, "value": float(value)}


def baseline_detections(
    windows: pa.Table, column: str, threshold: float, *, max_gap_s: float
) -> dict[str, np.ndarray]:
    """Anomalous windows of ``column`` (``is_anomalous`` at ``threshold``) merged into events,
    as the ``detections`` asset merges the production score's."""
    start = windows["window_start"].to_numpy().astype("datetime64[us]")
    end = windows["window_end"].to_numpy().astype("datetime64[us]")
    score = windows[column].to_numpy()
    flagged = is_anomalous(score, threshold)
    bounds = list(
        episode_bounds(start.astype(np.int64), end.astype(np.int64), flagged, max_gap_s=max_gap_s)
    )
    return {
        "start_utc": np.array([start[first] for first, _ in bounds], "datetime64[us]"),
        "end_utc": np.array([end[last] for _, last in bounds], "datetime64[us]"),
        "peak_score": np.array(
            [float(np.max(score[first : last + 1])) for first, last in bounds], float
        ),
    }


def equal_budget_threshold(scores: np.ndarray, keep: np.ndarray, flagged_share: float) -> float:
    """The threshold that flags ``flagged_share`` of the kept windows (inf for a share of 0)."""
    if flagged_share <= 0:
        return float("inf")
    return float(np.quantile(scores[keep], 1.0 - flagged_share))


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
    ks: Sequence[int],
) -> tuple[dict[str, dict], dict[str, EventMatch]]:
    """Window metrics and event matches of every method of :data:`METHODS`."""
    labels = window_labels(
        windows["window_start"].to_numpy(), windows["window_end"].to_numpy(), catalog, faults
    )
    flagged_share = float(np.mean(is_anomalous(windows["score"].to_numpy(), threshold)))
    keep = ~labels.is_quality
    results, matches = {}, {}
    for method, column in METHODS.items():
        s = windows[column].to_numpy()
        production_method = method == "production"
        thr = threshold if production_method else equal_budget_threshold(s, keep, flagged_share)
        results[method] = window_metrics(s, labels, max_fpr=max_fpr, threshold=thr)
        dets = (
            production
            if production_method
            else baseline_detections(windows, column, thr, max_gap_s=max_gap_s)
        )
        matches[method] = match_events(
            dets, catalog, faults, tolerance_s=tolerance_s, n_days=n_days, ks=ks
        )
    return results, matches


def metric_rows(results: dict[str, dict], matches: dict[str, EventMatch]) -> list[dict[str, Any]]:
    """``evaluation_metrics`` rows of :func:`evaluate_methods` (subset ``all``, then per class
    and per SNR bucket)."""
    rows = [row(m, k, "all", r[k]) for m, r in results.items() for k in WINDOW_METRICS]
    for m, match in matches.items():
        summary = match.summary()
        rows += [row(m, k, "all", summary[k]) for k in EVENT_METRICS]
        rows += [row(m, f"precision_at_{k}", "all", v) for k, v in match.precision_at_k.items()]
        for subset, table in (*match.recall_by_class.items(), *match.recall_by_snr.items()):
            rows += [
                row(m, "event_recall", subset, table["recall"]),
                row(m, "n_events", subset, table["n_events"]),
            ]
    return rows


def review_rows(reviewed: pa.Table, ks: Sequence[int]) -> list[dict[str, Any]]:
    """precision@k, count and precision of reviewed production detections (subset ``reviews``).

    ``reviewed``: one row per reviewed detection, ``peak_score`` and ``is_true`` (the verdict is
    ``true_event``).
    """
    if reviewed.num_rows == 0:
        return []
    is_true = reviewed["is_true"].to_numpy()
    p = precision_at_k(reviewed["peak_score"].to_numpy(), is_true, ks)
    rows = [row("production", f"precision_at_{k}", "reviews", v) for k, v in p.items()]
    rows.append(row("production", "n_reviewed", "reviews", len(is_true)))
    rows.append(row("production", "precision", "reviews", is_true.mean()))
    return rows


def yardstick_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``evaluation_metrics`` rows of the held-out summary: subset ``<part>`` or
    ``<part>:<class or SNR bucket>``."""
    rows = []
    for part, data in summary["parts"].items():
        for method, figures in data["methods"].items():
            for metric, value in figures.items():
                if isinstance(value, dict):
                    rows += [row(method, metric, f"{part}:{k}", v) for k, v in value.items()]
                else:
                    rows.append(row(method, metric, part, value))
    return rows


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
