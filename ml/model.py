"""The multi-head detector: encoder -> Gaussian bottleneck -> named decoder heads.

Dimension letters: B batch, C channels, H height, W width, D latent, h hidden.

Built by composition (nanoGPT style): one module holds the encoder, the bottleneck (``mu``,
``logvar``, ``eta``) and an ``nn.ModuleDict`` of heads. The *generator* head is the VAE decoder;
the *discriminator* head is trained with the Neyman-Pearson loss and its reconstruction error is
the anomaly score (Koizumi et al. 2019, arXiv 1810.09133). Every parameter is registered
normally, and optimizer groups come from ``named_parameters()`` (docs/model.md, reference
bug 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from ml.config import DetectorConfig, ErrorPart
from ml.errors import InputShapeError
from ml.networks import build_decoder, build_encoder

__all__ = ["Bottleneck", "NPDetector", "HeadName", "Phase", "check_input", "encode_mu",
           "residual_squares"]  # fmt: skip

HeadName = Literal["generator", "discriminator"]
HEAD_NAMES: tuple[HeadName, ...] = ("generator", "discriminator")
Phase = Literal["phase1", "phase2"]


class Bottleneck(nn.Module):
    """Gaussian bottleneck: h (B, h) -> mu, logvar (B, D); z (B, D) -> eta(z) (B, h)."""

    def __init__(self, h_dim: int, z_dim: int) -> None:
        super().__init__()
        self.mu = nn.Linear(h_dim, z_dim)
        self.logvar = nn.Linear(h_dim, z_dim)
        self.eta = nn.Sequential(nn.Linear(z_dim, h_dim), nn.LeakyReLU(0.2))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(h), self.logvar(h).clamp(-12.0, 8.0)  # (B, D), (B, D)


class NPDetector(nn.Module):
    """Encoder, bottleneck and the generator / discriminator heads.

    Inputs are raw arrays (B, C, H, W); the module standardises them with the buffers
    ``input_mean`` / ``input_std`` (set by :meth:`set_normalisation` from general data and
    saved with the state dict). Reconstructions and errors are in standardised units.
    """

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.bottleneck = Bottleneck(config.h_dim, config.z_dim)
        self.heads = nn.ModuleDict(
            {"generator": build_decoder(config), "discriminator": build_decoder(config)}
        )
        self.register_buffer("input_mean", torch.zeros(config.input_shape))
        self.register_buffer("input_std", torch.ones(config.input_shape))
        if config.discriminator_floor is not None:  # per row, standardised units
            self.register_buffer("output_floor", torch.full((*config.input_shape[:2], 1), -1e9))
        if config.discriminator_ceiling is not None:
            self.register_buffer("output_ceiling", torch.full((*config.input_shape[:2], 1), 1e9))
        c, h, w = config.input_shape
        # per-row (C * H) median squared error of each head on typical training data
        for head in HEAD_NAMES:
            self.register_buffer(f"error_scale_{head}", torch.ones(c * h))
        groups = torch.zeros(config.band_groups, c * h)  # (G, C*H) averaging matrix
        for g, rows in enumerate(torch.arange(c * h).tensor_split(config.band_groups)):
            groups[g, rows] = 1.0 / len(rows)
        step = ((torch.arange(w) + 0.5) * config.n_steps / w).floor().long()  # (W,)
        steps = torch.zeros(w, config.n_steps)  # (W, K) averaging matrix
        steps[torch.arange(w), step] = 1.0
        steps /= steps.sum(0, keepdim=True)
        self.register_buffer("_groups", groups, persistent=False)
        self.register_buffer("_steps", steps, persistent=False)

    # ------------------------------------------------------------ normalisation
    def set_normalisation(self, x: np.ndarray) -> None:
        """Set the standardisation buffers from general data ``x`` (N, C, H, W)."""
        mode = self.config.normalise
        xs = torch.as_tensor(np.asarray(x, dtype=np.float32))
        check_input(xs, self.config.input_shape)
        axes = {"feature": (0,), "row": (0, 3), "global": (0, 1, 2, 3)}.get(mode)
        if axes is None:  # "none"
            self._set_output_bounds(xs)
            return
        x64 = xs.double()
        mean = x64.mean(dim=axes, keepdim=True)[0]  # broadcastable to (C, H, W)
        std = x64.std(dim=axes, keepdim=True)[0]
        floor = self.config.std_floor * float(x64.std())
        std = std.clamp_min(max(floor, 1e-12))
        self.input_mean.copy_(mean.float().expand(self.config.input_shape))
        self.input_std.copy_(std.float().expand(self.config.input_shape))
        self._set_output_bounds(xs)

    @torch.no_grad()
    def _set_output_bounds(self, x: torch.Tensor) -> None:
        """The discriminator's per-row floor and ceiling from raw general data ``x``
        (N, C, H, W)."""
        bounds = {"output_floor": self.config.discriminator_floor,
                  "output_ceiling": self.config.discriminator_ceiling}  # fmt: skip
        if all(q is None for q in bounds.values()):
            return
        rows = self.standardise(x).permute(1, 2, 0, 3).flatten(2).numpy()  # (C, H, N*W)
        for name, q in bounds.items():
            if q is not None:
                value = np.quantile(rows, q, axis=2)  # (C, H)
                getattr(self, name).copy_(torch.from_numpy(value).float()[..., None])

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std  # (B, C, H, W)

    # ---------------------------------------------------------------- forward
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw x (B, C, H, W) -> mu, logvar (B, D)."""
        return self.bottleneck(self.encoder(self.standardise(x)))

    def decode(self, z: torch.Tensor, head: HeadName) -> torch.Tensor:
        """Latent z (B, D) -> reconstruction (B, C, H, W) by the named head, through eta (the
        discriminator's held between its floor and ceiling, ``DetectorConfig.discriminator_floor``
        and ``discriminator_ceiling``)."""
        x_hat = self.heads[head](self.bottleneck.eta(z))
        if head == "discriminator":
            if self.config.discriminator_floor is not None:
                x_hat = torch.maximum(x_hat, self.output_floor)
            if self.config.discriminator_ceiling is not None:
                x_hat = torch.minimum(x_hat, self.output_ceiling)
        return x_hat

    def forward(
        self, x: torch.Tensor, head: HeadName = "generator", *, sample: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x_hat (B, C, H, W) in standardised units, mu and logvar (B, D).

        With ``sample=True`` the head decodes ``z = mu + exp(logvar / 2) * eps``; otherwise mu.
        """
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decode(z, head), mu, logvar

    def errors(self, x: torch.Tensor, head: HeadName = "discriminator") -> torch.Tensor:
        """Per-sample mean squared reconstruction error with mu (B,), standardised units^2."""
        x_hat, _, _ = self.forward(x, head, sample=False)
        return (x_hat - self.standardise(x)).pow(2).flatten(1).mean(dim=1)  # (B,)

    def error_map(
        self, x: torch.Tensor, head: HeadName, part: ErrorPart | None = None
    ) -> torch.Tensor:
        """Squared error of ``head`` decoding mu, (B, C*H, W), standardised units^2.

        ``part`` (default: the config's ``error_part``): ``"both"`` every cell, ``"excess"``
        only the cells where the input lies above the reconstruction (the others are 0).
        """
        x_hat, _, _ = self.forward(x, head, sample=False)
        return residual_squares(self.standardise(x) - x_hat, part or self.config.error_part)

    def step_errors(self, x: torch.Tensor, head: HeadName) -> torch.Tensor:
        """Localised error per scoring step (B, K): the largest over band groups of the mean
        of the group's squared errors in the step, rows scaled by their typical median when there
        is more than one group (``DetectorConfig.n_steps``, ``band_groups``, ``error_part``)."""
        return self.pool_steps(self.error_map(x, head), head)

    def pool_steps(self, e: torch.Tensor, head: HeadName) -> torch.Tensor:
        """:meth:`step_errors` of an error map ``e`` (B, C*H, W) of ``head``: (B, K)."""
        if self.config.band_groups > 1:
            e = e / getattr(self, f"error_scale_{head}")[None, :, None]
        if self.config.step_pool == "mean":
            return torch.einsum("gr,brw,wk->bgk", self._groups, e, self._steps).amax(dim=1)
        worst = torch.einsum("gr,brw->bgw", self._groups, e).amax(dim=1)  # (B, W) worst group
        inside = self._steps > 0  # (W, K)
        return worst[:, :, None].masked_fill(~inside[None], float("-inf")).amax(dim=1)  # (B, K)

    @torch.no_grad()
    def set_error_scales(self, typical: np.ndarray, batch_size: int = 1024) -> None:
        """Per-row median squared error of each head on ``typical`` (N, C, H, W)."""
        self.eval()
        for head in HEAD_NAMES:
            maps = [
                self.error_map(torch.from_numpy(typical[i : i + batch_size]), head, "both")
                .median(dim=2)
                .values  # (B, C*H) per-input median over frames
                for i in range(0, typical.shape[0], batch_size)
            ]
            scale = torch.cat(maps).median(dim=0).values  # (C*H,)
            scale = scale.clamp_min(max(1e-3 * float(scale.median()), 1e-12))
            getattr(self, f"error_scale_{head}").copy_(scale)

    # ------------------------------------------------------- optimizer groups
    def phase_parameters(self, phase: Phase, *, with_logvar: bool = False) -> list[nn.Parameter]:
        """Parameters updated in a phase, selected from ``named_parameters()``.

        phase1 (VAE): encoder, whole bottleneck, generator. phase2 (NP): encoder, mu, eta and
        the discriminator, plus ``logvar`` when ``with_logvar`` (the phase-2 KL anchor uses it).
        """
        prefixes = {
            "phase1": ("encoder.", "bottleneck.", "heads.generator."),
            "phase2": ("encoder.", "bottleneck.mu.", "bottleneck.eta.", "heads.discriminator.")
            + (("bottleneck.logvar.",) if with_logvar else ()),
        }[phase]
        return [p for n, p in self.named_parameters() if n.startswith(prefixes)]


def residual_squares(residual: torch.Tensor, part: ErrorPart) -> torch.Tensor:
    """Squared ``residual`` (input minus reconstruction, any shape) flattened to (B, C*H, W);
    with ``part="excess"`` the negative residuals (the head over-predicts) count 0."""
    r = residual.clamp_min(0.0) if part == "excess" else residual
    return r.pow(2).flatten(1, 2)


def check_input(x: torch.Tensor | np.ndarray, input_shape: tuple[int, int, int]) -> None:
    """Raise :class:`InputShapeError` unless ``x`` is (N, *input_shape) and finite."""
    shape = tuple(x.shape)
    if len(shape) != 4 or shape[1:] != tuple(input_shape):
        raise InputShapeError(
            f"expected inputs shaped (N, {', '.join(map(str, input_shape))}), got {shape}"
        )
    if shape[0] == 0:
        raise InputShapeError("got an empty array (N = 0)")
    finite = (
        bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.isfinite(x).all())
    )
    if not finite:
        raise InputShapeError(f"inputs shaped {shape} hold NaN or infinite values")


@torch.no_grad()
def encode_mu(model: NPDetector, x: np.ndarray, *, batch_size: int = 1024) -> torch.Tensor:
    """Latent means mu (N, D) float32 of raw inputs x (N, C, H, W), in batches, no gradient.

    The model's training mode is restored afterwards. Both the trainer (GMM fits, anomaly
    pools) and the fitted detector (``latents``) read latents through this one function.
    """
    was_training = model.training
    model.eval()
    out = [model.encode(torch.from_numpy(x[i : i + batch_size]))[0] for i in
           range(0, x.shape[0], batch_size)]  # fmt: skip
    model.train(was_training)
    return torch.cat(out)  # (N, D)
