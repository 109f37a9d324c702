"""Training losses: the VAE objective (phase 1) and the Neyman-Pearson objective (phase 2).

Dimension letters: B batch, D latent.
"""

from __future__ import annotations

import torch

__all__ = ["vae_loss", "np_loss", "kl_divergence", "np_threshold"]


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per sample, (B,) nats (Kingma & Welling 2014)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)  # (B,)


def vae_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    beta: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative ELBO with a unit-variance Gaussian likelihood, averaged over the batch.

    Both terms are per-sample sums (reconstruction over all B x C x H x W elements, KL over D)
    averaged over the batch, so their balance does not depend on the batch size (reference
    bug 8 mixed a mean KL with a summed reconstruction).

    Parameters
    ----------
    x, x_hat
        Standardised input and reconstruction, (B, C, H, W) float32.
    mu, logvar
        Posterior parameters, (B, D) float32.
    beta
        KL weight.

    Returns
    -------
    loss
        0-d tensor: mean over the batch of ``0.5 * ||x - x_hat||^2 + beta * KL``.
    metrics
        ``{"recon": .., "kl": ..}`` per-sample means (floats).
    """
    recon = 0.5 * (x_hat - x).pow(2).flatten(1).sum(dim=1)  # (B,)
    kl = kl_divergence(mu, logvar)  # (B,)
    loss = (recon + beta * kl).mean()
    return loss, {"recon": float(recon.detach().mean()), "kl": float(kl.detach().mean())}


def np_threshold(errors_typical: torch.Tensor, rho: float) -> torch.Tensor:
    """rho_thr: the (1 - rho) quantile of typical errors (B,) -> 0-d tensor (no gradient)."""
    return torch.quantile(errors_typical.detach().reshape(-1), 1.0 - rho)


def np_loss(
    errors_typical: torch.Tensor,
    errors_anomalous: torch.Tensor,
    threshold: torch.Tensor | float,
    *,
    tau: torch.Tensor | float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Neyman-Pearson loss: smoothed FPR minus smoothed TPR at ``threshold``.

    ``mean sigmoid((e_typ - thr) / tau) - mean sigmoid((e_anom - thr) / tau)``
    (Koizumi et al. 2019, eq. 13 with a temperature ``tau`` so the sigmoid does not saturate).

    Parameters
    ----------
    errors_typical, errors_anomalous
        Per-sample discriminator errors (B1,), (B2,).
    threshold, tau
        Scalars (floats or 0-d tensors), in error units.

    Returns
    -------
    loss, metrics
        0-d tensor in [-1, 1]; ``{"fpr_soft", "tpr_soft", "fpr", "tpr"}`` (hard rates use ``>``).
    """
    thr = torch.as_tensor(threshold, dtype=errors_typical.dtype).detach()
    tau_t = torch.as_tensor(tau, dtype=errors_typical.dtype).detach()
    fpr = torch.sigmoid((errors_typical - thr) / tau_t).mean()
    tpr = torch.sigmoid((errors_anomalous - thr) / tau_t).mean()
    metrics = {
        "fpr_soft": float(fpr.detach()),
        "tpr_soft": float(tpr.detach()),
        "fpr": float((errors_typical > thr).float().mean()),
        "tpr": float((errors_anomalous > thr).float().mean()),
    }
    return fpr - tpr, metrics
