"""The evaluation's figures: ROC curves of every method and event recall per class and SNR.

Drawn on :class:`matplotlib.figure.Figure` objects on the Agg canvas (no pyplot state); save
them with ``fig.savefig`` or :func:`aco_assets.reporting.figures.png_bytes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from aco_assets.reporting.figures import agg_figure

if TYPE_CHECKING:
    from aco_assets.scoring.event_matching import EventMatch


def roc_figure(
    results: Mapping[str, Mapping[str, Any]], *, max_fpr: float = 0.1, title: str = ""
) -> Figure:
    """ROC curves of several detectors side by side: full range and the FPR <= max_fpr zoom.

    Parameters
    ----------
    results : detector name -> the dict of :func:`~aco_assets.scoring.evaluation.window_metrics`
    max_fpr : the zoomed panel's FPR limit
    """
    fig = agg_figure(figsize=(9.0, 4.0), layout="constrained")
    ax_full, ax_zoom = fig.subplots(1, 2)
    for name, r in results.items():
        label = f"{name} (AUC {r['auc']:.3f}, pAUC {r['pauc_mcclish']:.3f})"
        for ax in (ax_full, ax_zoom):
            (line,) = ax.plot(r["roc_fpr"], r["roc_tpr"], label=label, lw=1.4)
        if np.isfinite(r.get("fpr", np.nan)):
            ax_zoom.plot(r["fpr"], r["tpr"], "o", color=line.get_color(), ms=5)
    ax_full.plot([0, 1], [0, 1], ":", color="0.6", lw=1)
    ax_full.axvline(max_fpr, color="0.6", lw=0.8, ls="--")
    ax_zoom.set_xlim(0, max_fpr)
    ax_zoom.set_ylim(0, 1)
    for ax, sub in ((ax_full, "ROC"), (ax_zoom, f"FPR <= {max_fpr:g} (dot: operating point)")):
        ax.set_xlabel("false positive rate (windows)")
        ax.set_ylabel("true positive rate (windows)")
        ax.set_title(sub, fontsize=10)
        ax.grid(alpha=0.3)
    ax_full.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def per_class_figure(matches: Mapping[str, EventMatch], *, title: str = "") -> Figure:
    """Event recall per class and per SNR bucket, one bar group per detector.

    Parameters
    ----------
    matches : detector name -> :class:`~aco_assets.scoring.event_matching.EventMatch`
    """
    fig = agg_figure(figsize=(10.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=(3, 2))
    width = 0.8 / max(len(matches), 1)
    for ax, attr, xlabel in (
        (axes[0], "recall_by_class", "event class"),
        (axes[1], "recall_by_snr", "band SNR"),
    ):
        groups = sorted({g for m in matches.values() for g in getattr(m, attr)})
        if attr == "recall_by_snr" and matches:
            groups = list(getattr(next(iter(matches.values())), attr))
        x = np.arange(len(groups))
        for i, (name, m) in enumerate(matches.items()):
            table = getattr(m, attr)
            rec = [table.get(g, {}).get("recall", np.nan) for g in groups]
            ax.bar(x + (i - (len(matches) - 1) / 2) * width, np.nan_to_num(rec), width, label=name)
        counts = [
            next((getattr(m, attr).get(g, {}).get("n_events", 0) for m in matches.values()), 0)
            for g in groups
        ]
        ax.set_xticks(x, [f"{g}\n(n={c})" for g, c in zip(groups, counts, strict=True)], fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("event recall")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
