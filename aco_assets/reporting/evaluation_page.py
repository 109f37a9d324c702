"""The ``evaluation`` page: its tables as Markdown and its figures as files and small PNGs.

Full-size figures go to the version's evaluation folder (``roc.png``, ``per_class.png``,
``alarms_per_day.png``, and the held-out summary as ``yardstick.json``); small copies come back
as PNG bytes for inline Markdown. The results document of ``aco results`` reuses
:func:`methods_markdown`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aco_assets.reporting.evaluation_figures import per_class_figure, roc_figure
from aco_assets.reporting.evaluation_summary import alarms_figure
from aco_assets.reporting.figures import png_bytes
from aco_assets.scoring.methods import METHODS
from aco_assets.scoring.version_evaluation import EvaluationOutcome

#: The figures logged to MLflow and copied into the results document.
FIGURES: tuple[str, ...] = ("roc", "per_class")
HELD_OUT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("class-balanced AUC", "class_balanced_auc"), ("event-balanced AUC", "event_balanced_auc"),
    ("pAUC", "pauc"), ("recall @ budget", "recall_at_budget"),
    ("FA/h at threshold", "fa_per_hour_at_threshold"),
)  # fmt: skip


def method_columns(max_fpr: float) -> list[tuple[str, str]]:
    """(header, metric) of the per-method table."""
    return [
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


def methods_markdown(rows: list[dict[str, Any]], max_fpr: float) -> str:
    """The per-method table (window and event metrics, subset ``all``) as Markdown."""
    value = {(r["method"], r["metric"]): r["value"] for r in rows if r["subset"] == "all"}
    cols = method_columns(max_fpr)
    lines = ["| method | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in METHODS:
        cells = (f"{value.get((m, k), float('nan')):.3f}" for _, k in cols)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def held_out_markdown(summary: dict[str, Any]) -> str:
    """The held-out table of the Dagster metadata: one row per method."""
    part = summary["parts"].get("test", {})
    cols = HELD_OUT_COLUMNS
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


@dataclass(frozen=True)
class EvaluationPage:
    """What :func:`write_evaluation_page` wrote and what the page shows inline.

    Attributes
    ----------
    figures : figure name -> small PNG, in page order (empty when nothing was drawn)
    methods : the per-method table (None without ground truth)
    held_out : the held-out table (None without a held-out summary)
    yardstick : the held-out summary file (None without one)
    """

    figures: dict[str, bytes] = field(default_factory=dict)
    methods: str | None = None
    held_out: str | None = None
    yardstick: Path | None = None


def write_evaluation_page(
    outcome: EvaluationOutcome,
    per_day: list[tuple[str, int]],
    *,
    version: int,
    max_fpr: float,
    directory: Path,
) -> EvaluationPage:
    """Draw the figures of ``outcome`` into ``directory`` and return the page's inline parts.

    With ground truth: ROC, per-class recall and alarms per day, the methods table, and the
    held-out summary (``yardstick.json``) when there is one. Without: the alarms per day alone,
    when any day was scored.
    """
    if outcome.results is None or outcome.matches is None:
        if not per_day:
            return EvaluationPage()
        return EvaluationPage({"alarms_per_day": alarms_figure(per_day, version, directory)})
    directory.mkdir(parents=True, exist_ok=True)
    drawn = {
        "roc": roc_figure(outcome.results, max_fpr=max_fpr, title=f"model v{version}: window ROC"),
        "per_class": per_class_figure(outcome.matches, title=f"model v{version}: event recall"),
    }
    figures = {}
    for name, fig in drawn.items():
        fig.savefig(directory / f"{name}.png", dpi=100)
        figures[name] = png_bytes(fig, dpi=40)
    figures["alarms_per_day"] = alarms_figure(per_day, version, directory)
    methods = methods_markdown(outcome.rows, max_fpr)
    if outcome.held_out is None:
        return EvaluationPage(figures, methods)
    path = directory / "yardstick.json"
    path.write_text(json.dumps(outcome.held_out, indent=2, default=float))
    return EvaluationPage(figures, methods, held_out_markdown(outcome.held_out), path)
