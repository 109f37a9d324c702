"""Figures of a detector: loss curves, the latent space with GMM ellipses, image grids, ROC.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
no display needed); save it with ``fig.savefig(path)``.

Dimension letters: N samples, C channels, H height, W width, D latent, K components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from ml.gmm import GaussianMixture
from ml.metrics import roc_auc, roc_curve

__all__ = ["plot_loss_curves", "plot_latent_space", "plot_image_grid", "plot_roc"]


def plot_loss_curves(history: Sequence[Mapping[str, Any]]) -> Figure:
    """Phase-1 VAE loss and phase-2 NP loss / rates per global step (from ``fitted.history``)."""
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    p1 = [(h["step"], h["loss"]) for h in history if h["phase"] == "phase1"]
    if p1:
        ax1.plot(*zip(*p1, strict=True), lw=0.8)
        ax1.set_yscale("log")
    ax1.set(title="phase 1: VAE loss (recon + beta KL)", xlabel="step", ylabel="nats / sample")
    p2 = [h for h in history if h["phase"] == "phase2"]
    for key in ("loss", "fpr", "tpr"):
        if p2:
            ax2.plot([h["step"] for h in p2], [h[key] for h in p2], lw=0.8, label=key)
    ax2.set(title="phase 2: NP loss, batch FPR / TPR", xlabel="step")
    if p2:
        ax2.legend(loc="best", fontsize="small")
    return fig


def plot_latent_space(
    mu: np.ndarray,
    gmm: GaussianMixture,
    *,
    labels: np.ndarray | None = None,
    n_std: float = 2.0,
) -> Figure:
    """Latent means (N, D) projected on their first two principal axes, with GMM ellipses.

    Each component's covariance S_k (D, D) is projected as P^T S_k P with P (D, 2) the
    principal axes; its ellipse spans ``n_std`` standard deviations.
    """
    mu = np.asarray(mu, dtype=np.float64)
    center = mu.mean(axis=0)
    if mu.shape[1] >= 2:
        _, _, vt = np.linalg.svd(mu - center, full_matrices=False)
        proj = vt[:2].T  # (D, 2)
    else:
        proj = np.array([[1.0, 0.0]])  # (1, 2)
    xy = (mu - center) @ proj  # (N, 2)
    fig = Figure(figsize=(5, 4.5), layout="constrained")
    ax = fig.subplots()
    groups = np.unique(labels) if labels is not None else [None]
    for g in groups:
        sel = slice(None) if g is None else labels == g
        ax.scatter(xy[sel, 0], xy[sel, 1], s=4, alpha=0.5, label=None if g is None else str(g))
    means = (gmm.means_.numpy() - center) @ proj  # (K, 2)
    for k, cov in enumerate(gmm.covariances_.numpy()):
        c2 = proj.T @ cov @ proj  # (2, 2)
        vals, vecs = np.linalg.eigh(c2)
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        w, h = 2 * n_std * np.sqrt(np.maximum(vals[::-1], 0))
        ax.add_patch(Ellipse(means[k], w, h, angle=angle, fill=False, lw=1.5, color="k"))
    ax.set(title=f"latent means (PCA) and GMM {n_std:g}-sigma ellipses", xlabel="PC 1",
           ylabel="PC 2")  # fmt: skip
    if labels is not None:
        ax.legend(markerscale=3, fontsize="small", loc="best")
    return fig


def plot_image_grid(images: np.ndarray, *, n_cols: int = 8, title: str = "") -> Figure:
    """Show inputs (N, C, H, W) (first channel) in a grid, rows top to bottom."""
    images = np.asarray(images)
    n = images.shape[0]
    n_rows = max(1, int(np.ceil(n / n_cols)))
    fig = Figure(figsize=(n_cols * 0.9, n_rows * 0.9 + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).reshape(-1)
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i, 0], cmap="gray_r", origin="upper", interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def plot_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, rho: float | None = None
) -> Figure:
    """ROC curves of several scores: ``{name: (labels (N,), scores (N,))}``; log FPR axis."""
    fig = Figure(figsize=(5, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, (labels, scores) in curves.items():
        fpr, tpr = roc_curve(labels, scores)
        ax.plot(
            np.maximum(fpr, 1e-3), tpr, lw=1.2, label=f"{name} (AUC {roc_auc(labels, scores):.3f})"
        )
    if rho is not None:
        ax.axvline(rho, color="grey", ls=":", lw=1)
    ax.set(xscale="log", xlim=(1e-3, 1), ylim=(0, 1.01), xlabel="false-positive rate",
           ylabel="true-positive rate", title="ROC on the test split")  # fmt: skip
    ax.legend(fontsize="small", loc="lower right")
    return fig
