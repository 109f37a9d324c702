"""Simulated anomalies: latents (or real samples) that the typical-latent GMM finds unlikely.

Dimension letters: N samples, D latent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from ml.errors import SamplerCapError

__all__ = ["rejection_sample", "is_rejected", "unlikely_indices"]

logger = logging.getLogger(__name__)


def is_rejected(log_prob: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean mask (N,) of latents *kept as anomalies*: ``log_prob < threshold``.

    Works for any N >= 0, including a single sample (docs/model.md, reference bug 4).
    """
    return log_prob.reshape(-1) < threshold  # (N,)


def rejection_sample(
    log_prob: Callable[[torch.Tensor], torch.Tensor],
    threshold: float,
    n_samples: int,
    z_dim: int,
    *,
    generator: torch.Generator,
    batch_size: int = 4096,
    max_rounds: int = 200,
) -> torch.Tensor:
    """Draw ``n_samples`` latents z ~ N(0, I) whose mixture log-density is below ``threshold``.

    Vectorised: each round draws ``batch_size`` candidates and keeps the unlikely ones.

    Parameters
    ----------
    log_prob
        Maps latents (M, D) to log-densities (M,) (e.g. ``GaussianMixture.log_prob``).
    threshold
        Log-density bound (nats), typically the rho-quantile over typical latents.
    n_samples, z_dim
        How many latents, and D.
    generator
        Source of randomness (seeded by the caller).
    batch_size, max_rounds
        Candidates per round and the cap on rounds.

    Returns
    -------
    torch.Tensor
        (n_samples, D) float32.

    Raises
    ------
    SamplerCapError
        When ``max_rounds`` rounds yield fewer than ``n_samples`` latents; the message gives the
        acceptance rate and how to fix it.
    """
    kept: list[torch.Tensor] = []
    n_kept = 0
    for _round in range(1, max_rounds + 1):
        z = torch.randn(batch_size, z_dim, generator=generator)  # (M, D)
        mask = is_rejected(log_prob(z.double()), threshold)  # (M,)
        kept.append(z[mask])
        n_kept += int(mask.sum())
        if n_kept >= n_samples:
            logger.debug("rejection sampler: %d rounds, acceptance %.4f", _round,
                         n_kept / (_round * batch_size))  # fmt: skip
            return torch.cat(kept)[:n_samples]  # (n_samples, D)
    rate = n_kept / (max_rounds * batch_size)
    raise SamplerCapError(
        f"rejection sampler drew {n_kept} of {n_samples} latents below log-density "
        f"{threshold:.3f} in max_rounds={max_rounds} rounds of {batch_size} (acceptance "
        f"{rate:.2e}); raise max_rounds / batch_size, raise rho, or use anomaly_source='real'"
    )


def unlikely_indices(log_prob: np.ndarray, threshold: float) -> np.ndarray:
    """Indices (M,) int64 of samples whose latent log-density is below ``threshold``."""
    return np.flatnonzero(np.asarray(log_prob).reshape(-1) < threshold).astype(np.int64)
